import { Prisma } from '../generated/prisma/client';

/**
 * endOfActiveLife() of key-lifecycle.ts in SQL, over "ClientEncryptionKey": the
 * earliest of revokedAt, deprecatedAt and expiresAt-if-past at `now` (LEAST ignores
 * NULLs; NULL when the key is still active). Retention is counted from it.
 */
export function endOfActiveLifeSql(now: Date): Prisma.Sql {
  return Prisma.sql`LEAST("revokedAt", "deprecatedAt", CASE WHEN "expiresAt" <= ${now} THEN "expiresAt" END)`;
}

import { Prisma } from '../database';
import { DAY_MS } from './key-lifecycle';

/**
 * The rules of key-lifecycle.ts as SQL over "ClientEncryptionKey", for queries that
 * must decide in the database (the newest usable key, the daily job, key counts).
 * Each mirrors the TypeScript function of the same name; the repository test
 * `key-lifecycle.repo-spec.ts` proves they agree on every boundary.
 * `now` is always the service clock's time, never the database's now().
 */
export const lifecycleSql = {
  /**
   * isExpired(): expiresAt at or before now. NULL without expiresAt (false in a
   * WHERE), and left bare so that an index on expiresAt serves it.
   */
  isExpired: (now: Date) => Prisma.sql`("expiresAt" <= ${now})`,

  /** keyStatus() = REVOKED. */
  isRevoked: () => Prisma.sql`("revokedAt" IS NOT NULL)`,

  /** keyStatus() = DEPRECATED, over bare columns (never NULL). */
  isDeprecated: (now: Date) =>
    Prisma.sql`("revokedAt" IS NULL AND ("deprecated" OR "expiresAt" <= ${now}) IS TRUE)`,

  /** keyStatus(). */
  keyStatus: (now: Date) => Prisma.sql`
    CASE WHEN "revokedAt" IS NOT NULL THEN 'REVOKED'
         WHEN "deprecated" OR coalesce("expiresAt" <= ${now}, false) THEN 'DEPRECATED'
         ELSE 'ACTIVE' END`,

  /** keyStatus() = ACTIVE, written so that the (deviceId, deprecated, expiresAt) index serves it. */
  isActive: (now: Date) =>
    Prisma.sql`("deprecated" = false AND "revokedAt" IS NULL AND ("expiresAt" IS NULL OR "expiresAt" > ${now}))`,

  /** endOfActiveLife(): LEAST ignores NULLs, and is NULL when all are. */
  endOfActiveLife: (now: Date) =>
    Prisma.sql`LEAST("revokedAt", "deprecatedAt", CASE WHEN "expiresAt" <= ${now} THEN "expiresAt" END)`,

  /**
   * isPastRetention(): the end of active life at or before the cutoff (now - retention),
   * i.e. any of its moments is, an expiry only once passed: bare column comparisons
   * (never NULL), twice as cheap per row as LEAST() over a CASE when counting every key.
   */
  isPastRetention: (now: Date, retentionDays: number) => {
    const cutoff = retentionCutoff(now, retentionDays);
    const expiredBy = new Date(Math.min(cutoff.getTime(), now.getTime()));
    return Prisma.sql`(("revokedAt" <= ${cutoff} OR "deprecatedAt" <= ${cutoff} OR "expiresAt" <= ${expiredBy}) IS TRUE)`;
  },
};

/** Keys whose active life ended at or before this moment are past retention at `now`. */
export function retentionCutoff(now: Date, retentionDays: number): Date {
  return new Date(now.getTime() - retentionDays * DAY_MS);
}

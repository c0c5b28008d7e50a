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

  /** isPastRetention(): the end of active life at or before now - retention. */
  isPastRetention: (now: Date, retentionDays: number) =>
    Prisma.sql`coalesce(${lifecycleSql.endOfActiveLife(now)} <= ${retentionCutoff(now, retentionDays)}, false)`,
};

/** Keys whose active life ended at or before this moment are past retention at `now`. */
export function retentionCutoff(now: Date, retentionDays: number): Date {
  return new Date(now.getTime() - retentionDays * DAY_MS);
}

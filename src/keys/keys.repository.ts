import { Injectable } from '@nestjs/common';
import { Batch, deleteInsertOnlyBatch, Prisma, PrismaService, runBatch, SqlNumber } from '../database';
import { lifecycleSql } from './key-lifecycle.sql';
import type { KeyRecord, NewKey, StoredKey } from './key-record';
import { DEVICE_LEDGER, reserveInWindow, WindowReservation } from './window-ledger';

export type GenerationReservation = WindowReservation;

export interface KeyCountsByState {
  active: number;
  deprecated: number;
  revoked: number;
  /** Past retention: gone for clients, row not yet deleted by the daily job. */
  awaitingDeletion: number;
}

/** Every column but the wrapped private key. */
const RECORD = {
  id: true,
  deviceId: true,
  appVersion: true,
  publicKey: true,
  expiresAt: true,
  deprecated: true,
  deprecatedAt: true,
  revokedAt: true,
  createdAt: true,
} as const;

/**
 * The only queries over ClientEncryptionKey and its rate-limit ledger KeyGeneration
 * (both owned by the keys module). Lifecycle conditions come from key-lifecycle.sql.ts.
 * Times are the service clock's, passed in; never the database's now().
 */
@Injectable()
export class KeysRepository {
  constructor(private readonly prisma: PrismaService) {}

  findById(id: string): Promise<KeyRecord | null> {
    return this.prisma.clientEncryptionKey.findUnique({ where: { id }, select: RECORD });
  }

  /** With the wrapped private key: for decryption only. */
  findStoredById(id: string): Promise<StoredKey | null> {
    return this.prisma.clientEncryptionKey.findUnique({ where: { id }, select: { ...RECORD, privateKey: true } });
  }

  /** The newest key of the device that is ACTIVE at `now`. */
  async findNewestActive(deviceId: string, now: Date): Promise<KeyRecord | null> {
    const [row] = await this.prisma.$queryRaw<KeyRecord[]>`
      SELECT "id", "deviceId", "appVersion", "publicKey", "expiresAt", "deprecated", "deprecatedAt",
             "revokedAt", "createdAt"
        FROM "ClientEncryptionKey"
       WHERE "deviceId" = ${deviceId} AND ${lifecycleSql.isActive(now)}
       ORDER BY "createdAt" DESC, "id" DESC
       LIMIT 1`;
    return row ?? null;
  }

  /** The device's keys, newest first (activeEncryptionKey's order). */
  findKeysOfDevice(deviceId: string): Promise<KeyRecord[]> {
    return this.prisma.clientEncryptionKey.findMany({
      where: { deviceId },
      orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
      select: RECORD,
    });
  }

  /**
   * Takes one of the device's `max` generations per window, or says when the
   * oldest one in the window frees up. Serialised per device by a transaction-scoped
   * advisory lock, so concurrent calls on any number of replicas count exactly.
   */
  reserveGeneration(deviceId: string, now: Date, windowStart: Date, max: number): Promise<GenerationReservation> {
    return reserveInWindow(this.prisma, DEVICE_LEDGER, deviceId, now, windowStart, max);
  }

  /** Gives a generation back when the key could not be made after all. */
  async releaseGeneration(reservationId: string): Promise<void> {
    await this.prisma.keyGeneration.deleteMany({ where: { id: reservationId } });
  }

  insert(key: NewKey): Promise<KeyRecord> {
    return this.prisma.clientEncryptionKey.create({
      data: { ...key, updatedAt: key.createdAt },
      select: RECORD,
    });
  }

  /** Adds counted uses to many keys in one statement (keys deleted meanwhile are skipped). */
  async addUses(uses: { id: string; count: number; lastUsed: Date }[]): Promise<void> {
    await this.prisma.$executeRaw`
      UPDATE "ClientEncryptionKey" AS k
      SET "usageCount" = k."usageCount" + u.count,
          "lastUsed" = GREATEST(k."lastUsed", u.last_used),
          "updatedAt" = GREATEST(k."updatedAt", u.last_used)
      FROM unnest(${uses.map((use) => use.id)}::text[],
                  ${uses.map((use) => use.count)}::int[],
                  ${uses.map((use) => use.lastUsed)}::timestamptz[]) AS u(id, count, last_used)
      WHERE k.id = u.id`;
  }

  /** Deprecates those of `ids` that are still neither deprecated nor revoked. */
  async deprecate(ids: string[], now: Date): Promise<number> {
    const { count } = await this.prisma.clientEncryptionKey.updateMany({
      where: { id: { in: ids }, deprecated: false, revokedAt: null },
      data: { deprecated: true, deprecatedAt: now, updatedAt: now },
    });
    return count;
  }

  /** Revokes the key unless it already is (the first revocation stands); null when it is gone. */
  async revoke(id: string, now: Date, reason: string): Promise<KeyRecord | null> {
    const [revoked] = await this.prisma.clientEncryptionKey.updateManyAndReturn({
      where: { id, revokedAt: null },
      data: { revokedAt: now, revokedReason: reason, updatedAt: now },
      select: RECORD,
    });
    return revoked ?? this.findById(id);
  }

  /** Stored keys by state at `now`, by the rules of requests. */
  async countByState(now: Date, retentionDays: number): Promise<KeyCountsByState> {
    const [row] = await this.prisma.$queryRaw<Record<keyof KeyCountsByState, SqlNumber>[]>`
      SELECT count(*) FILTER (WHERE NOT gone AND status = 'REVOKED')::int AS revoked,
             count(*) FILTER (WHERE NOT gone AND status = 'DEPRECATED')::int AS deprecated,
             count(*) FILTER (WHERE NOT gone AND status = 'ACTIVE')::int AS active,
             count(*) FILTER (WHERE gone)::int AS "awaitingDeletion"
        FROM (SELECT ${lifecycleSql.keyStatus(now)} AS status,
                     ${lifecycleSql.isPastRetention(now, retentionDays)} AS gone
                FROM "ClientEncryptionKey") states`;
    return {
      active: Number(row.active),
      deprecated: Number(row.deprecated),
      revoked: Number(row.revoked),
      awaitingDeletion: Number(row.awaitingDeletion),
    };
  }

  // The daily job's batches. Each changes at most `limit` rows in one statement and
  // walks an index in order from `after` (the previous batch's last value), so no
  // batch rescans what earlier ones left behind. SKIP LOCKED: a row a request holds
  // right now is left for the next run. Keys are changed by id (every use updates them).

  /**
   * Expired keys not yet marked: deprecated from the moment they expired (or from an
   * earlier deprecation time already on record: marking never moves a key's end of life).
   */
  deprecateExpired(now: Date, after: Date | null, limit: number): Promise<Batch<Date>> {
    return runBatch<Date>(this.prisma, Prisma.sql`
      UPDATE "ClientEncryptionKey"
      SET "deprecated" = true, "deprecatedAt" = LEAST("deprecatedAt", "expiresAt"), "updatedAt" = ${now}
      WHERE "id" = ANY(ARRAY(
        SELECT "id" FROM "ClientEncryptionKey"
        WHERE "deprecated" = false AND ${lifecycleSql.isExpired(now)}
          AND "expiresAt" >= COALESCE(${after}::timestamptz, '-infinity')
        ORDER BY "expiresAt" LIMIT ${limit} FOR UPDATE SKIP LOCKED))
      RETURNING "expiresAt" AS "cursor"`);
  }

  /** Keys past retention at `now`. */
  deletePastRetention(now: Date, retentionDays: number, after: string | null, limit: number): Promise<Batch<string>> {
    return runBatch<string>(this.prisma, Prisma.sql`
      DELETE FROM "ClientEncryptionKey"
      WHERE "id" = ANY(ARRAY(
        SELECT "id" FROM "ClientEncryptionKey"
        WHERE ${lifecycleSql.isPastRetention(now, retentionDays)}
          AND "id" >= COALESCE(${after}::text, '')
        ORDER BY "id" LIMIT ${limit} FOR UPDATE SKIP LOCKED))
      RETURNING "id" AS "cursor"`);
  }

  /** Rate-limit ledger rows at or before the window start no longer count. */
  purgeGenerationsUpTo(windowStart: Date, after: Date | null, limit: number): Promise<Batch<Date>> {
    return deleteInsertOnlyBatch(
      this.prisma,
      'KeyGeneration',
      'createdAt',
      Prisma.sql`"createdAt" <= ${windowStart}`,
      after,
      limit,
    );
  }

  // Re-wrapping private keys under a new master key.

  /** Rows not under the newest master key (their wrapped value does not start with `newestPrefix`), by id from `afterId`. */
  findWrappedOutside(newestPrefix: string, afterId: string, limit: number) {
    return this.prisma.clientEncryptionKey.findMany({
      where: { id: { gt: afterId }, NOT: { privateKey: { startsWith: newestPrefix } } },
      select: { id: true, privateKey: true },
      orderBy: { id: 'asc' },
      take: limit,
    });
  }

  /** Writes the re-wrapped value only if the row still holds what was read. */
  async replaceWrapped(id: string, expected: string, rewrapped: string): Promise<boolean> {
    const { count } = await this.prisma.clientEncryptionKey.updateMany({
      where: { id, privateKey: expected },
      data: { privateKey: rewrapped },
    });
    return count === 1;
  }
}


import { Injectable } from '@nestjs/common';
import { Batch, deleteInsertOnlyBatch, Prisma, PrismaService, runBatch, SqlNumber } from '../database';
import { lifecycleSql } from './key-lifecycle.sql';
import type { KeyRecord, NewKey, StoredKey } from './key-record';

/** The per-device rate limit: at most `max` generations after `windowStart`. */
export interface GenerationLimit {
  deviceId: string;
  now: Date;
  windowStart: Date;
  max: number;
}

/** A key pair made ahead of need (KeyPoolPair): its private key wrapped for the id it keeps. */
export interface PoolPair {
  id: string;
  publicKey: string;
  privateKey: string;
}

/** The fields of a new key that do not come from its key pair. */
export type KeyOwner = Omit<NewKey, 'id' | 'publicKey' | 'privateKey'>;

export type KeyCreation =
  | { outcome: 'created'; key: KeyRecord }
  | { outcome: 'refused'; oldestInWindow: Date }
  /** Within the limit, but no pair to claim (or none asked for): nothing was written. */
  | { outcome: 'no-pair' };

/** The tables holding wrapped private keys (the re-wrap walks both). */
export type WrappedKeyTable = 'ClientEncryptionKey' | 'KeyPoolPair';

export interface KeyCountsByState {
  active: number;
  deprecated: number;
  revoked: number;
  /** Past retention: gone for clients, row not yet deleted by the daily job. */
  awaitingDeletion: number;
}

/** Longest a refill turn may hold its transaction (and a connection); the pool abandons a pair sooner (MAKE_PAIR_TIMEOUT_MS). */
const REFILL_TURN_TIMEOUT_MS = 120_000;

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
   * A new key and the device's reservation for it in ONE transaction, so that a
   * crash between them cannot take a generation without leaving a key. Under the
   * per-device advisory lock (transaction-scoped), so that concurrent calls on any
   * number of replicas count exactly. The limit is checked first (a refused device
   * takes no pair); the key's pair is either `pair` (made on request) or claimed from
   * the pool: the oldest pair younger than `freshAfter`, deleted with FOR UPDATE SKIP
   * LOCKED, so concurrent claims never get the same pair and never wait for each
   * other. Claiming moves the row under the same id: its wrapped private key is valid
   * as it is. Two statements (the lock, then one statement for the rest): a claim
   * costs four round trips, BEGIN and COMMIT included.
   */
  async createWithinLimit(
    limit: GenerationLimit,
    owner: KeyOwner,
    pair: PoolPair | { claimFromPool: { freshAfter: Date } | null },
  ): Promise<KeyCreation> {
    const { deviceId, now, windowStart, max } = limit;
    const claim = 'claimFromPool' in pair ? pair.claimFromPool : undefined;
    const pairSql =
      claim === undefined
        ? Prisma.sql`SELECT ${(pair as PoolPair).id}::text AS "id", ${(pair as PoolPair).publicKey}::text AS "publicKey",
                            ${(pair as PoolPair).privateKey}::text AS "privateKey"
                      WHERE (SELECT ok FROM allowed)`
        : claim === null
          ? Prisma.sql`SELECT NULL::text AS "id", NULL::text AS "publicKey", NULL::text AS "privateKey" WHERE false`
          : Prisma.sql`DELETE FROM "KeyPoolPair"
                        WHERE "id" = (SELECT "id" FROM "KeyPoolPair"
                                       WHERE (SELECT ok FROM allowed) AND "createdAt" > ${claim.freshAfter}::timestamptz
                                       ORDER BY "createdAt", "id"
                                       LIMIT 1 FOR UPDATE SKIP LOCKED)
                       RETURNING "id", "publicKey", "privateKey"`;
    const [, [row]] = await this.prisma.$transaction([
      this.prisma.$executeRaw`SELECT pg_advisory_xact_lock(hashtextextended(${`kms:keygen:${deviceId}`}, 0))`,
      this.prisma.$queryRaw<(Partial<KeyRecord> & { ok: boolean; oldest: Date | null })[]>`
        WITH recent AS (
               SELECT "createdAt" FROM "KeyGeneration"
                WHERE "deviceId" = ${deviceId} AND "createdAt" > ${windowStart}::timestamptz
                ORDER BY "createdAt" LIMIT ${max}),
             allowed AS (SELECT count(*) < ${max} AS ok, min("createdAt") AS oldest FROM recent),
             pair AS (${pairSql}),
             ledger AS (
               INSERT INTO "KeyGeneration" ("id", "deviceId", "createdAt")
               SELECT gen_random_uuid()::text, ${deviceId}::text, ${now}::timestamptz FROM pair),
             created AS (
               INSERT INTO "ClientEncryptionKey"
                      ("id", "deviceId", "appVersion", "publicKey", "privateKey", "expiresAt", "createdAt", "updatedAt")
               SELECT "id", ${owner.deviceId}::text, ${owner.appVersion}::text, "publicKey", "privateKey",
                      ${owner.expiresAt}::timestamptz, ${owner.createdAt}::timestamptz, ${owner.createdAt}::timestamptz
                 FROM pair
               RETURNING "id", "deviceId", "appVersion", "publicKey", "expiresAt", "deprecated", "deprecatedAt",
                         "revokedAt", "createdAt")
        SELECT allowed.ok, allowed.oldest, created.* FROM allowed LEFT JOIN created ON true`,
    ]);
    if (!row.ok) return { outcome: 'refused', oldestInWindow: row.oldest! };
    if (!row.id) return { outcome: 'no-pair' };
    const { ok: _ok, oldest: _oldest, ...key } = row;
    return { outcome: 'created', key: key as KeyRecord };
  }

  // The key pool (KeyPoolPair).

  /** Puts a pair (made for a request that could not use it after all) into the pool. */
  async addPoolPair(pair: PoolPair, createdAt: Date): Promise<void> {
    await this.prisma.keyPoolPair.create({ data: { ...pair, createdAt } });
  }

  /** Pairs in the pool, stale ones included (the refill discards them). */
  countPoolPairs(): Promise<number> {
    return this.prisma.keyPoolPair.count();
  }

  /**
   * One turn of the pool's refill, in a transaction holding a transaction-level
   * advisory lock, so that one refill (one key generation) runs at a time across every
   * worker and replica, and a process that dies releases it with its connection.
   * Another refill under way: `{ turn: false }` at once. Otherwise discards the pairs
   * created at or before `staleUpTo`, counts the rest, and if `wanted(count)` adds the
   * pair `make()` gives.
   */
  refillTurn(
    staleUpTo: Date,
    wanted: (count: number) => boolean,
    make: () => Promise<PoolPair & { createdAt: Date }>,
  ): Promise<{ turn: false } | { turn: true; discarded: number; count: number; added: boolean }> {
    return this.prisma.$transaction(
      async (tx) => {
        const [{ acquired }] = await tx.$queryRaw<{ acquired: boolean }[]>`
          SELECT pg_try_advisory_xact_lock(hashtextextended('kms:key-pool-refill', 0)) AS acquired`;
        if (!acquired) return { turn: false as const };
        const discarded = await tx.$executeRaw`DELETE FROM "KeyPoolPair" WHERE "createdAt" <= ${staleUpTo}`;
        const count = await tx.keyPoolPair.count();
        if (!wanted(count)) return { turn: true as const, discarded, count, added: false };
        await tx.keyPoolPair.create({ data: await make() });
        return { turn: true as const, discarded, count: count + 1, added: true };
      },
      // A generation takes ~150 ms on an idle core, far longer while requests have the CPU.
      { maxWait: 10_000, timeout: REFILL_TURN_TIMEOUT_MS },
    );
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
    // Bare column predicates over the lifecycle index (an index-only scan), in one backend
    // (the table's parallel_workers is 0: migration 20261215000000).
    const gone = lifecycleSql.isPastRetention(now, retentionDays);
    const [row] = await this.prisma.$queryRaw<Record<'total' | Exclude<keyof KeyCountsByState, 'active'>, SqlNumber>[]>`
      SELECT count(*)::int AS total,
             count(*) FILTER (WHERE ${lifecycleSql.isRevoked()} AND NOT ${gone})::int AS revoked,
             count(*) FILTER (WHERE ${lifecycleSql.isDeprecated(now)} AND NOT ${gone})::int AS deprecated,
             count(*) FILTER (WHERE ${gone})::int AS "awaitingDeletion"
        FROM "ClientEncryptionKey"`;
    const [revoked, deprecated, awaitingDeletion] = [row.revoked, row.deprecated, row.awaitingDeletion].map(Number);
    // A key is REVOKED, DEPRECATED or ACTIVE (keyStatus()): the active ones are the rest.
    return { active: Number(row.total) - revoked - deprecated - awaitingDeletion, deprecated, revoked, awaitingDeletion };
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

  /** Rows of `table` not under the newest master key (their wrapped value does not start with `newestPrefix`), by id after `afterId`. */
  findWrappedOutside(table: WrappedKeyTable, newestPrefix: string, afterId: string, limit: number) {
    return this.prisma.$queryRaw<{ id: string; privateKey: string }[]>`
      SELECT "id", "privateKey" FROM ${Prisma.raw(`"${table}"`)}
       WHERE "id" > ${afterId} AND NOT starts_with("privateKey", ${newestPrefix})
       ORDER BY "id" LIMIT ${limit}`;
  }

  /** Writes the re-wrapped value only if the row still holds what was read. */
  async replaceWrapped(table: WrappedKeyTable, id: string, expected: string, rewrapped: string): Promise<boolean> {
    const count = await this.prisma.$executeRaw`
      UPDATE ${Prisma.raw(`"${table}"`)} SET "privateKey" = ${rewrapped}
       WHERE "id" = ${id} AND "privateKey" = ${expected}`;
    return count === 1;
  }
}


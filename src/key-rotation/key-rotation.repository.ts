import { Injectable } from '@nestjs/common';
import { PrismaService } from '../database/prisma.service';
import { endOfActiveLifeSql } from '../encryption/key-lifecycle.sql';
import { Prisma } from '../generated/prisma/client';

/** How many rows a batch changed, and where the next batch starts (null: from the beginning). */
export interface Batch<C> {
  changed: number;
  cursor: C | null;
}

/**
 * The daily job's statements. Each call changes at most `limit` rows in one
 * statement (its own commit), so a crash loses at most the batch in flight and a
 * rerun finishes the rest. Each walks an index in order from `after` (the previous
 * batch's last value; the rows it changed no longer match, so ties are safe), so
 * no batch rescans what earlier ones left behind, and a short batch means the end.
 * SKIP LOCKED: a row a request holds right now is left for the next run instead of
 * stalling the job. ARRAY(...) turns the change into direct lookups of the locked
 * rows: by id for keys (every use updates them; the change must follow the newest
 * version), by ctid for the insert-only tables (2-3 times faster than their
 * random-uuid primary key). Times come from the Clock, never now().
 */
@Injectable()
export class KeyRotationRepository {
  constructor(private readonly prisma: PrismaService) {}

  /** Expired keys not yet marked: deprecated from the moment they expired. */
  deprecateExpiredKeys(now: Date, after: Date | null, limit: number): Promise<Batch<Date>> {
    return this.counted<Date>(Prisma.sql`
      UPDATE "ClientEncryptionKey"
      SET "deprecated" = true, "deprecatedAt" = "expiresAt", "updatedAt" = ${now}
      WHERE "id" = ANY(ARRAY(
        SELECT "id" FROM "ClientEncryptionKey"
        WHERE "deprecated" = false AND "expiresAt" <= ${now}
          AND "expiresAt" >= COALESCE(${after}::timestamptz, '-infinity')
        ORDER BY "expiresAt" LIMIT ${limit} FOR UPDATE SKIP LOCKED))
      RETURNING "expiresAt" AS "cursor"`);
  }

  /**
   * Keys whose active life ended at or before `cutoff`: the earliest of revokedAt,
   * deprecatedAt and expiresAt-if-past (LEAST ignores NULLs), as endOfActiveLife().
   */
  deleteKeysEndedBy(now: Date, cutoff: Date, after: string | null, limit: number): Promise<Batch<string>> {
    return this.counted<string>(Prisma.sql`
      DELETE FROM "ClientEncryptionKey"
      WHERE "id" = ANY(ARRAY(
        SELECT "id" FROM "ClientEncryptionKey"
        WHERE ${endOfActiveLifeSql(now)} <= ${cutoff}
          AND "id" >= COALESCE(${after}::text, '')
        ORDER BY "id" LIMIT ${limit} FOR UPDATE SKIP LOCKED))
      RETURNING "id" AS "cursor"`);
  }

  deleteMetricsBefore(cutoff: Date, after: Date | null, limit: number): Promise<Batch<Date>> {
    return this.deleteInsertOnly('EncryptionMetric', 'timestamp', Prisma.sql`"timestamp" < ${cutoff}`, after, limit);
  }

  /** Replay records whose key can no longer decrypt: nothing left to replay. */
  purgeExpiredConsumedCiphertexts(now: Date, after: Date | null, limit: number): Promise<Batch<Date>> {
    return this.deleteInsertOnly('ConsumedCiphertext', 'expiresAt', Prisma.sql`"expiresAt" <= ${now}`, after, limit);
  }

  /** Rate-limit ledger rows at or before the window start no longer count. */
  purgeKeyGenerationsUpTo(windowStart: Date, after: Date | null, limit: number): Promise<Batch<Date>> {
    return this.deleteInsertOnly('KeyGeneration', 'createdAt', Prisma.sql`"createdAt" <= ${windowStart}`, after, limit);
  }

  /** A batch of rows of an insert-only table matching `condition`, in `column` order from `after`. */
  private deleteInsertOnly(
    table: 'EncryptionMetric' | 'ConsumedCiphertext' | 'KeyGeneration',
    column: 'timestamp' | 'expiresAt' | 'createdAt',
    condition: Prisma.Sql,
    after: Date | null,
    limit: number,
  ): Promise<Batch<Date>> {
    const [from, by] = [Prisma.raw(`"${table}"`), Prisma.raw(`"${column}"`)];
    return this.counted<Date>(Prisma.sql`
      DELETE FROM ${from}
      WHERE "ctid" = ANY(ARRAY(
        SELECT "ctid" FROM ${from}
        WHERE ${condition} AND ${by} >= COALESCE(${after}::timestamptz, '-infinity')
        ORDER BY ${by} LIMIT ${limit} FOR UPDATE SKIP LOCKED))
      RETURNING ${by} AS "cursor"`);
  }

  /** `change` must return a "cursor" column per changed row. */
  private async counted<C>(change: Prisma.Sql): Promise<Batch<C>> {
    const [batch] = await this.prisma.$queryRaw<Batch<C>[]>`
      WITH "changed" AS (${change})
      SELECT count(*)::int AS "changed", max("cursor") AS "cursor" FROM "changed"`;
    return batch;
  }
}

import { Prisma } from '../generated/prisma/client';
import type { PrismaService } from './prisma.service';

/** How many rows a batch changed, and where the next batch starts (null: from the beginning). */
export interface Batch<C> {
  changed: number;
  cursor: C | null;
}

type Db = Pick<PrismaService, '$queryRaw'>;

/**
 * Runs one data-changing statement (its own commit) that RETURNs a "cursor" column
 * per changed row, and counts them. The daily job's steps are such statements,
 * each changing at most `limit` rows, so a crash loses at most the batch in flight.
 */
export async function runBatch<C>(db: Db, change: Prisma.Sql): Promise<Batch<C>> {
  const [batch] = await db.$queryRaw<Batch<C>[]>`
    WITH "changed" AS (${change})
    SELECT count(*)::int AS "changed", max("cursor") AS "cursor" FROM "changed"`;
  return batch;
}

/**
 * Deletes a batch of rows of an insert-only table matching `condition`, walking
 * `column` in order from `after` (the previous batch's last value: the rows it
 * deleted no longer match, so ties are safe). By ctid, 2-3 times faster than a
 * random-uuid primary key; SKIP LOCKED leaves a row a request holds for the next run.
 */
export function deleteInsertOnlyBatch(
  db: Db,
  table: string,
  column: string,
  condition: Prisma.Sql,
  after: Date | null,
  limit: number,
): Promise<Batch<Date>> {
  const [from, by] = [Prisma.raw(`"${table}"`), Prisma.raw(`"${column}"`)];
  return runBatch<Date>(db, Prisma.sql`
    DELETE FROM ${from}
    WHERE "ctid" = ANY(ARRAY(
      SELECT "ctid" FROM ${from}
      WHERE ${condition} AND ${by} >= COALESCE(${after}::timestamptz, '-infinity')
      ORDER BY ${by} LIMIT ${limit} FOR UPDATE SKIP LOCKED))
    RETURNING ${by} AS "cursor"`);
}

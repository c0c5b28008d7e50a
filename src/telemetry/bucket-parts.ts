import { Prisma, SqlNumber, toNumber } from '../database';
import { SKETCH_REGISTERS } from './device-sketch';
import type { DevicePart, IdTable, KeyPart, OperationAggregateRow, PartKind, PartOf } from './rollup-bucket-cache';
import { Bucket, DEVICE_LIST_GRAIN_SECONDS } from './window-plan';

/**
 * How each kind of bucket part (rollup-bucket-cache.ts) is read from its rollup table:
 * a row per bucket (to keep), or, for the big kinds, all the buckets summed into one
 * part (a summary that misses many buckets: far fewer rows to send than every bucket's).
 * Ids travel as JSON, numbers as comma-separated text: both decode much faster than
 * rows or arrays through the driver and Prisma. Sums are of int (one key's or device's
 * count in a bucket), which gives bigint: sum() of bigint gives numeric, about twice as slow.
 */

/** A part as read: grain and start (per bucket only) and its columns as text. */
export interface PartRow {
  grain: number;
  start: Date;
  ids: string | null;
  operations: string | null;
  failures: string | null;
  rejections?: string | null;
  lastRejected?: string | null;
  rows?: string;
  registers?: Uint8Array;
  floor?: SqlNumber;
}

export interface PartSource<K extends PartKind> {
  /** Rows per bucket of `used` (a relation used(grain, start)) that has rows: grain, start and the part's columns. */
  each(used: Prisma.Sql): Prisma.Sql;
  /** One row: the buckets of `used` summed into one part; absent where parts are small (always read each). */
  together?(used: Prisma.Sql): Prisma.Sql;
  decode(row: PartRow, table: IdTable): PartOf<K>;
}

/** Key rows (k) as one row of text columns, in one order (every aggregate of a group reads its rows in the same order). */
export const KEY_COLUMNS = Prisma.sql`
  json_agg(k."keyId")::text AS ids, string_agg(k."operations"::text, ',') AS operations,
  string_agg(k."failures"::text, ',') AS failures`;
/** Device rows (d) likewise; the last rejection in epoch milliseconds, N for none. */
export const DEVICE_COLUMNS = Prisma.sql`
  json_agg(d."deviceId")::text AS ids, string_agg(d."operations"::text, ',') AS operations,
  string_agg(d."failures"::text, ',') AS failures, string_agg(d."rateLimited"::text, ',') AS rejections,
  string_agg(coalesce((extract(epoch FROM d."lastRateLimitedAt") * 1000)::bigint::text, 'N'), ',') AS "lastRejected"`;

/** `used` (a relation used(grain, start)) joined with the rows of rollup `table` (as `alias`) of its buckets, `extra` added to the join. */
export const joined = (table: string, alias: string, used: Prisma.Sql, extra = Prisma.empty) =>
  Prisma.sql`${used} JOIN ${Prisma.raw(`"${table}" ${alias}`)}
               ON ${Prisma.raw(alias)}."grainSeconds" = used.grain AND ${Prisma.raw(alias)}."bucketStart" = used.start ${extra}`;

/** Hours the buckets cover. */
export function hoursOf(buckets: Bucket[]): number {
  return buckets.reduce((hours, bucket) => hours + bucket.grainSeconds / 3600, 0);
}

export const PART_SOURCES: { [K in PartKind]: PartSource<K> } = {
  operations: {
    each: (used) => Prisma.sql`
      SELECT used.grain, used.start,
             json_agg(json_build_array(r."operation", r."status", r."errorReason", r."count", r."sumMicros", r."minMicros",
                                       r."maxMicros", r."histogramBins", r."histogramCounts"))::text AS rows
        FROM ${joined('MetricRollup', 'r', used)}
       GROUP BY 1, 2`,
    decode: (row) => ({ rows: operationRows(row.rows ?? '[]') }),
  },
  sketch: {
    each: (used) => Prisma.sql`
      SELECT used.grain, used.start, s."registers", s."floor" FROM ${joined('MetricDeviceSketch', 's', used)}`,
    decode: (row) => ({ registers: new Uint8Array(row.registers ?? new Uint8Array(SKETCH_REGISTERS)), floor: toNumber(row.floor) }),
  },
  devices: {
    each: (used) => Prisma.sql`
      SELECT used.grain, used.start, ${DEVICE_COLUMNS} FROM ${joined('MetricDeviceRollup', 'd', used)} GROUP BY 1, 2`,
    together: (used) => Prisma.sql`
      SELECT ${DEVICE_COLUMNS}
        FROM (SELECT d."deviceId", sum(d."operations"::int) AS operations, sum(d."failures"::int) AS failures,
                     sum(d."rateLimited"::int) AS "rateLimited", max(d."lastRateLimitedAt") AS "lastRateLimitedAt"
                FROM ${joined('MetricDeviceRollup', 'd', used)}
               GROUP BY 1) AS d`,
    decode: (row, table) => devicePart(row, table),
  },
  failingKeys: {
    each: (used) => Prisma.sql`
      SELECT used.grain, used.start, ${KEY_COLUMNS}
        FROM ${joined('MetricKeyRollup', 'k', used, Prisma.sql`AND k."failures" > 0`)}
       GROUP BY 1, 2`,
    together: (used) => Prisma.sql`
      SELECT ${KEY_COLUMNS}
        FROM (SELECT k."keyId", sum(k."operations"::int) AS operations, sum(k."failures"::int) AS failures
                FROM ${joined('MetricKeyRollup', 'k', used, Prisma.sql`AND k."failures" > 0`)}
               GROUP BY 1) AS k`,
    decode: (row, table) => keyPart(row, table),
  },
};

/** The part of a bucket without rows. */
export const EMPTY_PARTS: { [K in PartKind]: PartOf<K> } = {
  failingKeys: { ids: new Int32Array(0), operations: new Int32Array(0), failures: new Int32Array(0) },
  devices: {
    ids: new Int32Array(0), operations: new Int32Array(0), failures: new Int32Array(0),
    rejections: new Int32Array(0), lastRejected: new Float64Array(0),
  },
  sketch: { registers: new Uint8Array(SKETCH_REGISTERS), floor: 0 },
  operations: { rows: [] },
};

/** The buckets whose device lists cover `buckets`: a day's are its hours'. */
export function deviceLists(buckets: Bucket[]): Bucket[] {
  return buckets.flatMap((bucket) => {
    if (bucket.grainSeconds <= DEVICE_LIST_GRAIN_SECONDS) return [bucket];
    return Array.from({ length: bucket.grainSeconds / DEVICE_LIST_GRAIN_SECONDS }, (_, i) => ({
      grainSeconds: DEVICE_LIST_GRAIN_SECONDS,
      start: new Date(bucket.start.getTime() + i * DEVICE_LIST_GRAIN_SECONDS * 1000),
    }));
  });
}

/** MetricRollup rows as json_build_array gives them (numbers below 2^53: counts, and sums of µs). */
function operationRows(text: string): OperationAggregateRow[] {
  const rows = JSON.parse(text) as [string, string, string | null, number, number, number, number, number[], number[]][];
  return rows.map(([operation, status, errorReason, count, sumMicros, minMicros, maxMicros, bins, counts]) => ({
    operation, status, errorReason, count, sumMicros, minMicros, maxMicros, bins, counts,
  }));
}

/**
 * Comma-separated counts: as int32 (one key or device in one bucket), or as float64
 * where buckets were summed (exact below 2^53).
 */
export function counts(text: string | null | undefined, count: number, summed = false): Int32Array | Float64Array {
  const values = summed ? new Float64Array(count) : new Int32Array(count);
  if (!text) return values;
  const items = text.split(',');
  const max = summed ? Number.MAX_SAFE_INTEGER : 0x7fffffff;
  for (let i = 0; i < count; i += 1) {
    const value = Number(items[i]);
    if (!(value >= 0 && value <= max)) throw new Error('a rollup count out of range');
    values[i] = value;
  }
  return values;
}

/** Ids sent as a JSON array of names, interned. */
export function internedIds(text: string | null, table: IdTable): Int32Array {
  const names = text ? (JSON.parse(text) as string[]) : [];
  return Int32Array.from(names, (name) => table.intern(name));
}

/** Rows without grain and start are sums over buckets. */
const summed = (row: PartRow) => row.grain === undefined;

export function keyPart(row: PartRow, table: IdTable): KeyPart {
  const ids = internedIds(row.ids, table);
  return { ids, operations: counts(row.operations, ids.length, summed(row)), failures: counts(row.failures, ids.length, summed(row)) };
}

export function devicePart(row: PartRow, table: IdTable): DevicePart {
  const ids = internedIds(row.ids, table);
  const lastRejected = new Float64Array(ids.length).fill(Number.NaN);
  (row.lastRejected ?? '').split(',').forEach((value, i) => {
    if (i < ids.length && value !== 'N') lastRejected[i] = Number(value);
  });
  return {
    ids,
    operations: counts(row.operations, ids.length, summed(row)),
    failures: counts(row.failures, ids.length, summed(row)),
    rejections: counts(row.rejections, ids.length, summed(row)),
    lastRejected,
  };
}

/** Buckets as a relation used(grain, start). */
export function usedBuckets(buckets: Bucket[]): Prisma.Sql {
  return Prisma.sql`unnest(${buckets.map((bucket) => bucket.grainSeconds)}::int[],
                           ${buckets.map((bucket) => bucket.start.toISOString())}::timestamptz[]) AS used(grain, start)`;
}

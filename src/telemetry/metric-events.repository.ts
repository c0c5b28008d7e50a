import { Inject, Injectable } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '../config';
import { Batch, deleteInsertOnlyBatch, integersOfArrayText, Prisma, PrismaService, SqlNumber, toNumber } from '../database';
import { ErrorCode } from '../common';
import { type MetricEvent, NOT_KEY_FAILURE_REASONS } from './metric-event';
import type { OperationName } from './operations';
import { addRanks, deviceHash, estimateDevices, mergeSketches, SKETCH_REGISTERS, sketchRank, sketchRegister } from './device-sketch';
import { Bucket, bucketKey, DEVICE_LIST_GRAIN_SECONDS, planWindow, WindowPlan } from './window-plan';
import { DevicePart, IdTable, KeyPart, RollupBucketCache, SketchPart } from './rollup-bucket-cache';
import { MergedDevices, MergedProblemKeys, mergeDevices, problemKeyTest, rankProblemKeys, sumKeyParts } from './window-merge';

const KEY_GENERATION: OperationName = 'generate';
const DAY_MS = 24 * 60 * 60 * 1000;

/** A time window, both ends included. */
export interface MetricWindow {
  from: Date;
  to: Date;
}

/**
 * Durations of the rows of one (operation, status, errorReason), in microseconds, with
 * their histogram (duration-histogram.ts): from rollups and raw rows alike.
 */
export interface OperationAggregateRow {
  operation: string;
  status: string;
  errorReason: string | null;
  count: SqlNumber;
  sumMicros: SqlNumber;
  minMicros: SqlNumber;
  maxMicros: SqlNumber;
  bins: number[];
  counts: SqlNumber[];
}

/** The window's devices (summary): `active` exact or the sketches' estimate, lists exact. */
export type WindowDevices = Omit<MergedDevices, 'listed'> & { active: number };

/** Problem keys: most primary-key lookups of candidates' bucket rows before reading all of them. */
const MAX_CANDIDATE_PROBES = 50_000;
/** A summary's snapshot: repeatable reads, open at most a minute. */
const SNAPSHOT_OPTIONS = { isolationLevel: 'RepeatableRead', maxWait: 10_000, timeout: 60_000 } as const;
/** What pg_export_snapshot() returns, e.g. 00000003-0000001B-1. */
const SNAPSHOT_ID = /^[0-9A-F]+(-[0-9A-F]+)+$/;
/** The partition every row outside the day partitions lands in. */
const DEFAULT_PARTITION = 'EncryptionMetric_default';
const PARTITION_NAME = /^EncryptionMetric_p(\d{4})(\d{2})(\d{2})$/;

type Db = Pick<PrismaService, '$queryRaw' | '$executeRaw'>;

const isoList = (dates: Date[]) => dates.map((date) => date.toISOString());

/** A row's duration in microseconds: durationMicros, or the seed's whole milliseconds. */
const MICROS = Prisma.sql`coalesce(m."durationMicros", m."duration"::bigint * 1000)`;

/**
 * (operation, status, errorReason) aggregates with their histogram, over the raw rows
 * `source` (aliased m). The rollup step stores exactly this; the summary reads it for
 * the raw parts of a window.
 */
export function rawOperationAggregates(source: Prisma.Sql): Prisma.Sql {
  return Prisma.sql`
    SELECT "operation", "status", "errorReason",
           sum(n) AS "count", sum(total) AS "sumMicros", min(low) AS "minMicros", max(high) AS "maxMicros",
           array_agg(bin ORDER BY bin) AS bins, array_agg(n ORDER BY bin) AS counts
      FROM (SELECT m."operation", m."status", m."errorReason", "kms_metric_duration_bin"(${MICROS}) AS bin,
                   count(*) AS n, sum(${MICROS}) AS total, min(${MICROS}) AS low, max(${MICROS}) AS high
              FROM ${source}
             GROUP BY 1, 2, 3, 4) AS binned
     GROUP BY 1, 2, 3`;
}

/** Per device over the raw rows `source` (aliased m), in MetricDeviceRollup's columns. */
export function rawDeviceAggregates(source: Prisma.Sql): Prisma.Sql {
  const refused = Prisma.sql`m."status" = 'failure' AND m."operation" = ${KEY_GENERATION} AND m."errorReason" = ${ErrorCode.RATE_LIMITED}`;
  return Prisma.sql`
    SELECT m."deviceId", count(*) AS operations, count(*) FILTER (WHERE m."status" = 'failure') AS failures,
           count(*) FILTER (WHERE ${refused}) AS "rateLimited",
           max(m."timestamp") FILTER (WHERE ${refused}) AS "lastRateLimitedAt"
      FROM ${source}
     WHERE m."deviceId" IS NOT NULL
     GROUP BY 1`;
}

/**
 * Per key over the raw rows `source` (aliased m), in MetricKeyRollup's columns. A user's
 * wrong or locked secret (NOT_KEY_FAILURE_REASONS) is an operation of the key, not a failure of it.
 */
export function rawKeyAggregates(source: Prisma.Sql): Prisma.Sql {
  return Prisma.sql`
    SELECT m."keyId", count(*) AS operations,
           count(*) FILTER (WHERE m."status" = 'failure'
                              AND coalesce(m."errorReason", '') <> ALL(${NOT_KEY_FAILURE_REASONS}::text[])) AS failures
      FROM ${source}
     WHERE m."keyId" IS NOT NULL
     GROUP BY 1`;
}

/**
 * The EncryptionMetric table (owned by telemetry): the recorder's batched writes, its
 * day partitions and retention, and the snapshot the metrics report reads in.
 */
@Injectable()
export class MetricEventsRepository {
  /** Closed buckets' key and device rollups already read by this process (rollup-bucket-cache.ts). */
  private readonly bucketCache: RollupBucketCache;

  constructor(
    private readonly prisma: PrismaService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {
    this.bucketCache = new RollupBucketCache(config.metrics.summaryCacheBytes);
  }

  /**
   * One INSERT ... SELECT FROM unnest(...) per batch: a statement of ten array
   * parameters whatever the batch size (Prisma's createMany built and bound 9
   * parameters per row, 17-20% of a worker's CPU under load). Ids are made here.
   */
  async insertMany(events: MetricEvent[]): Promise<void> {
    if (events.length === 0) return;
    const column = <T>(pick: (event: MetricEvent) => T) => events.map(pick);
    await this.prisma.$executeRaw`
      INSERT INTO "EncryptionMetric"
             ("id", "operation", "status", "keyId", "deviceId", "errorReason", "errorDetail", "duration", "durationMicros", "timestamp")
      SELECT gen_random_uuid()::text, *
        FROM unnest(${column((e) => e.operation)}::text[], ${column((e) => e.status)}::text[],
                    ${column((e) => e.keyId ?? null)}::text[], ${column((e) => e.deviceId ?? null)}::text[],
                    ${column((e) => e.errorReason ?? null)}::text[], ${column((e) => e.errorDetail ?? null)}::text[],
                    ${column((e) => e.duration)}::int[], ${column((e) => e.durationMicros ?? null)}::int[],
                    ${isoList(column((e) => e.timestamp))}::timestamptz[])`;
  }

  /**
   * Day partitions for every UTC day from `from` to `to` (included), created if
   * missing (rows of those days waiting in the default partition move in). Returns
   * how many were created.
   */
  async ensurePartitions(from: Date, to: Date): Promise<number> {
    const [row] = await this.prisma.$queryRaw<{ created: number }[]>`
      SELECT count(*) FILTER (WHERE "kms_metric_partition_ensure"(day::date))::int AS created
        FROM generate_series((${from.toISOString()}::timestamptz AT TIME ZONE 'UTC')::date,
                             (${to.toISOString()}::timestamptz AT TIME ZONE 'UTC')::date, interval '1 day') AS day`;
    return row.created;
  }

  /** The day partitions that exist, by the UTC day (midnight) each holds. */
  async partitionDays(): Promise<Date[]> {
    const rows = await this.prisma.$queryRaw<{ name: string }[]>`
      SELECT child.relname AS name
        FROM pg_inherits
        JOIN pg_class child ON child.oid = pg_inherits.inhrelid
       WHERE pg_inherits.inhparent = '"EncryptionMetric"'::regclass`;
    return rows
      .map((row) => PARTITION_NAME.exec(row.name))
      .filter((match): match is RegExpExecArray => match !== null)
      .map(([, year, month, day]) => new Date(Date.UTC(Number(year), Number(month) - 1, Number(day))))
      .sort((a, b) => a.getTime() - b.getTime());
  }

  /**
   * Drops the day partitions that end at or before `cutoff` (every row in them is
   * older than the retention): no row is deleted one by one. Returns how many.
   */
  async dropPartitionsBefore(cutoff: Date): Promise<number> {
    let dropped = 0;
    for (const day of await this.partitionDays()) {
      if (day.getTime() + DAY_MS > cutoff.getTime()) break;
      const name = `EncryptionMetric_p${day.toISOString().slice(0, 10).replace(/-/g, '')}`;
      await this.prisma.$executeRawUnsafe(`DROP TABLE IF EXISTS "${name}"`);
      dropped += 1;
    }
    return dropped;
  }

  /**
   * A batch of rows of the default partition older than `cutoff` (rows outside every
   * day partition: imports, clocks far off), oldest first from `after`.
   */
  deleteBefore(cutoff: Date, after: Date | null, limit: number): Promise<Batch<Date>> {
    return deleteInsertOnlyBatch(this.prisma, DEFAULT_PARTITION, 'timestamp', Prisma.sql`"timestamp" < ${cutoff}`, after, limit);
  }

  /**
   * Runs `work` over `lanes` pooled connections (at most the pool's size less one, so
   * that other requests keep one) that share one REPEATABLE READ snapshot: the first
   * exports it (pg_export_snapshot), the others adopt it (SET TRANSACTION SNAPSHOT). So
   * the summary's independent reads run at once, yet every figure comes from the same
   * state (rollups, the marks of what they miss, and raw rows agree, even while rows are
   * written and buckets rolled up). One group per process at a time: two groups each
   * holding a leader and waiting for followers could exhaust the pool.
   */
  inSnapshot<T>(work: (lanes: MetricsReads[]) => Promise<T>, lanes = 1): Promise<T> {
    const count = Math.max(1, Math.min(lanes, this.poolSize - 1));
    const run = this.snapshotQueue.then(() => this.snapshotGroup(count, work));
    this.snapshotQueue = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  private snapshotQueue: Promise<void> = Promise.resolve();

  private get poolSize(): number {
    return this.config.database.poolSize;
  }

  private snapshotGroup<T>(lanes: number, work: (lanes: MetricsReads[]) => Promise<T>): Promise<T> {
    return this.prisma.$transaction(async (leader) => {
      if (lanes === 1) return work([new MetricsReads(leader, this.bucketCache)]).finally(() => this.bucketCache.trim());
      const [{ snapshot }] = await leader.$queryRaw<{ snapshot: string }[]>`SELECT pg_export_snapshot() AS snapshot`;
      if (!SNAPSHOT_ID.test(snapshot)) throw new Error('unexpected snapshot id');
      let release!: () => void;
      const released = new Promise<void>((resolve) => (release = resolve));
      const joined: Promise<MetricsReads>[] = [];
      const ended: Promise<unknown>[] = [];
      for (let lane = 1; lane < lanes; lane += 1) {
        joined.push(
          new Promise<MetricsReads>((ready, failed) => {
            ended.push(
              this.prisma
                .$transaction(async (follower) => {
                  // A utility statement takes no parameters; the id was checked above.
                  await follower.$executeRawUnsafe(`SET TRANSACTION SNAPSHOT '${snapshot}'`);
                  ready(new MetricsReads(follower, this.bucketCache));
                  await released;
                }, SNAPSHOT_OPTIONS)
                .catch(failed),
            );
          }),
        );
      }
      try {
        return await work([new MetricsReads(leader, this.bucketCache), ...(await Promise.all(joined))]);
      } finally {
        release();
        await Promise.allSettled(ended);
        this.bucketCache.trim();
      }
    }, SNAPSHOT_OPTIONS);
  }
}

/** One bucket's part as read: grain, start, and its columns as text (JSON ids, comma-separated numbers). */
interface PartText {
  grain: number;
  start: Date;
  ids: string | null;
  operations: string | null;
  failures: string | null;
  rejections?: string | null;
  lastRejected?: string | null;
}

/**
 * The summary's aggregations, each over a WindowPlan: the rollups of the clean buckets
 * inside the window plus the raw rows of the rest (the window's partial 10 minutes at
 * its start, the open 10 minutes, buckets not rolled up yet). Operations are
 * aggregated in SQL; devices and problem keys are merged in memory from the buckets'
 * rows, which this process keeps between summaries (RollupBucketCache, keyed by build
 * number): a summary reads the buckets it has not seen and the raw rows only.
 * Numbers of one device or key in one bucket are int (a day holds no 2^31 operations
 * of one key).
 */
export class MetricsReads {
  constructor(
    private readonly db: Db,
    private readonly cache: RollupBucketCache,
  ) {}

  /** Which buckets of the window come from rollups and which ranges from raw rows, and the buckets' build numbers. */
  async plan({ from, to }: MetricWindow): Promise<WindowPlan> {
    const rows = await this.db.$queryRaw<{ dirty: boolean; grainSeconds: number; bucketStart: Date; build: string | null }[]>`
      SELECT true AS dirty, "grainSeconds", "bucketStart", NULL::text AS build FROM "MetricRollupDirty"
       WHERE "bucketStart" >= ${from} AND "bucketStart" <= ${to}
      UNION ALL
      SELECT false, "grainSeconds", "bucketStart", "build"::text FROM "MetricRollupBuild"
       WHERE "bucketStart" >= ${from} AND "bucketStart" <= ${to}`;
    const dirty = new Set<string>();
    const builds = new Map<string, string>();
    for (const row of rows) {
      const key = bucketKey(row.grainSeconds, row.bucketStart.getTime());
      if (row.dirty) dirty.add(key);
      else builds.set(key, row.build!);
    }
    return { ...planWindow(from, to, dirty), builds };
  }

  /**
   * Per (operation, status, errorReason): counts and durations over the window, and the
   * histograms of its parts (raw rows, each bucket) one after the other (addBins sums
   * them). As array text, one row per group: decoding the ~640 parts' rows with their
   * int[]/bigint[] (node-postgres, then Prisma) cost ~20 ms of JavaScript.
   */
  async operations(plan: WindowPlan): Promise<OperationAggregateRow[]> {
    const rows = await this.db.$queryRaw<(Omit<OperationAggregateRow, 'bins' | 'counts'> & { bins: string; counts: string })[]>`
      SELECT "operation", "status", "errorReason", sum("count") AS "count", sum("sumMicros") AS "sumMicros",
             min("minMicros") AS "minMicros", max("maxMicros") AS "maxMicros",
             -- Both in the same order: the parts in the order this group read them.
             string_agg(bins::text, '') AS bins, string_agg(counts::text, '') AS counts
        FROM (${rawOperationAggregates(liveRows(plan))}
              UNION ALL
              SELECT r."operation", r."status", r."errorReason", r."count", r."sumMicros", r."minMicros", r."maxMicros",
                     r."histogramBins", r."histogramCounts"
                FROM ${usedBuckets(plan)}
                JOIN "MetricRollup" r ON r."grainSeconds" = used.grain AND r."bucketStart" = used.start) AS parts
       GROUP BY 1, 2, 3`;
    return rows.map((row) => ({ ...row, bins: integersOfArrayText(row.bins), counts: integersOfArrayText(row.counts) }));
  }

  /**
   * How many devices were active, the busiest `limit`, and the devices refused a key
   * generation by the rate limit. Lists come from the device lists of 10 minutes and
   * hours (a day's through its 24 hours) and the raw rows; the count is exact when every
   * bucket listed all its devices (floor 0), else the HyperLogLog estimate of the merged
   * sketches (device-sketch.ts). Rate-limited devices are always listed: exact.
   */
  async devices(plan: WindowPlan, limit: number): Promise<WindowDevices> {
    // A day's device lists are its hours'.
    const lists = plan.buckets.flatMap((bucket) => {
      if (bucket.grainSeconds <= DEVICE_LIST_GRAIN_SECONDS) return [bucket];
      return Array.from({ length: bucket.grainSeconds / DEVICE_LIST_GRAIN_SECONDS }, (_, i) => ({
        grainSeconds: DEVICE_LIST_GRAIN_SECONDS,
        start: new Date(bucket.start.getTime() + i * DEVICE_LIST_GRAIN_SECONDS * 1000),
      }));
    });
    const table = this.cache.ids;
    // The raw rows' devices, with each one's sketch register and rank (for the estimate).
    const h = Prisma.sql`d.h`;
    const [raw] = await this.db.$queryRaw<(PartText & { registers: string | null; ranks: string | null })[]>`
      SELECT ${DEVICE_COLUMNS},
             string_agg(${sketchRegister(h)}::text, ',') AS registers, string_agg((${sketchRank(h)})::text, ',') AS ranks
        FROM (SELECT a.*, ${deviceHash(Prisma.sql`a."deviceId"`)} AS h FROM (${rawDeviceAggregates(liveRows(plan))}) AS a) AS d`;
    const parts = [
      devicePart(raw, table),
      ...(await this.bucketParts('devices', lists, plan.builds, (used) => this.db.$queryRaw<PartText[]>`
        SELECT used.grain, used.start, ${DEVICE_COLUMNS}
          FROM ${used} JOIN "MetricDeviceRollup" d ON d."grainSeconds" = used.grain AND d."bucketStart" = used.start
         GROUP BY 1, 2`, (text) => devicePart(text, table))),
    ];
    const { listed, ...merged } = mergeDevices(parts, table, limit);
    const sketches = await this.bucketParts('sketch', plan.buckets, plan.builds, (used) =>
      this.db.$queryRaw<{ grain: number; start: Date; registers: Uint8Array; floor: SqlNumber }[]>`
        SELECT used.grain, used.start, s."registers", s."floor"
          FROM ${used} JOIN "MetricDeviceSketch" s ON s."grainSeconds" = used.grain AND s."bucketStart" = used.start`,
      (row) => ({ registers: new Uint8Array(row.registers), floor: toNumber(row.floor) }));
    if (sketches.every((sketch) => sketch.floor === 0)) return { ...merged, active: listed };
    const registers = mergeSketches(new Uint8Array(SKETCH_REGISTERS), sketches.map((sketch) => sketch.registers));
    const rawDevices = parts[0].ids.length;
    addRanks(registers, ints(raw.registers, rawDevices), ints(raw.ranks, rawDevices));
    return { ...merged, active: estimateDevices(registers) };
  }

  /**
   * Keys with at least `minFailures` failures and a failure rate of at least `minRate`
   * in the window (exact decimal comparison: 3 of 10 passes 0.3), most failures first
   * (then by id), with how many keys passed in all. Exact: every failure is in the rows
   * of the keys that failed per bucket (kept by the process, see bucketParts) or in the
   * raw rows, so candidates (enough failures) are found in memory; a key below the rate
   * against the operations of the buckets where it failed (and its raw operations) is
   * below it in the window, and dropped. Then the candidates' operations in the other
   * buckets: looked up key by key and bucket by bucket while that is at most `maxProbes`
   * lookups, else from every key row of the buckets (with every key failing, lookups
   * took seconds).
   */
  async problemKeys(
    plan: WindowPlan,
    thresholds: { minFailures: number; minRate: number },
    limit: number,
    maxProbes = MAX_CANDIDATE_PROBES,
  ): Promise<MergedProblemKeys> {
    const table = this.cache.ids;
    const [rawText] = await this.db.$queryRaw<PartText[]>`
      SELECT ${KEY_COLUMNS} FROM (${rawKeyAggregates(liveRows(plan))}) AS k`;
    const raw = keyPart(rawText, table);
    const failing = await this.bucketParts('failingKeys', plan.buckets, plan.builds, (used) => this.db.$queryRaw<PartText[]>`
      SELECT used.grain, used.start, ${KEY_COLUMNS}
        FROM ${used} JOIN "MetricKeyRollup" k
          ON k."grainSeconds" = used.grain AND k."bucketStart" = used.start AND k."failures" > 0
       GROUP BY 1, 2`, (text) => keyPart(text, table));
    const whereFailed = sumKeyParts([raw, ...failing], table);
    const passes = problemKeyTest(thresholds);
    const candidates = whereFailed.failing.filter((id) => passes(whereFailed.failures[id], whereFailed.operations[id]));
    if (candidates.length === 0 || plan.buckets.length === 0) {
      return rankProblemKeys(candidates, whereFailed, table, thresholds, limit);
    }
    const names = candidates.map((id) => table.names[id]);
    const probe = candidates.length * plan.buckets.length <= maxProbes;
    const [rolledText] = await this.db.$queryRaw<PartText[]>`
      SELECT ${KEY_COLUMNS}
        FROM (SELECT k."keyId", sum(k."operations"::int) AS operations, 0 AS failures
                FROM ${usedBuckets(plan)}
                JOIN "MetricKeyRollup" k ON k."grainSeconds" = used.grain AND k."bucketStart" = used.start
               WHERE ${probe
                 // Few candidates: their row of each bucket, looked up by primary key.
                 ? Prisma.sql`k."keyId" = ANY(${names}::text[])`
                 // Many: each key row of the buckets read once, matched against them by hash.
                 : Prisma.sql`k."keyId" IN (SELECT unnest(${names}::text[]))`}
               GROUP BY 1) AS k`;
    const window = sumKeyParts([raw, keyPart(rolledText, table)], table);
    const failures = new Float64Array(window.operations.length);
    for (const id of candidates) failures[id] = whereFailed.failures[id];
    return rankProblemKeys(candidates, { operations: window.operations, failures }, table, thresholds, limit);
  }

  /**
   * The parts of `buckets` of one kind: kept ones from the cache, the others read at
   * once (`read` gets them as a relation used(grain, start), returns a row per bucket
   * that has rows) and kept. A bucket without rows has an empty part.
   */
  private async bucketParts<K extends 'failingKeys' | 'devices' | 'sketch', R extends { grain: number; start: Date }>(
    kind: K,
    buckets: Bucket[],
    builds: ReadonlyMap<string, string>,
    read: (used: Prisma.Sql) => Promise<R[]>,
    decode: (row: R) => (K extends 'failingKeys' ? KeyPart : K extends 'devices' ? DevicePart : SketchPart),
  ) {
    type Part = K extends 'failingKeys' ? KeyPart : K extends 'devices' ? DevicePart : SketchPart;
    const keys = buckets.map((bucket) => bucketKey(bucket.grainSeconds, bucket.start.getTime()));
    const parts: (Part | undefined)[] = keys.map((key) => this.cache.get(kind, key, builds.get(key)) as Part | undefined);
    const missing = buckets.filter((_, i) => parts[i] === undefined);
    if (missing.length > 0) {
      const found = new Map<string, Part>();
      for (const row of await read(usedBuckets({ buckets: missing }))) {
        found.set(bucketKey(row.grain, row.start.getTime()), decode(row));
      }
      keys.forEach((key, i) => {
        if (parts[i] !== undefined) return;
        const part = found.get(key) ?? (EMPTY[kind] as Part);
        this.cache.put(kind, key, builds.get(key), part as never);
        parts[i] = part;
      });
    }
    return parts as Part[];
  }
}

const EMPTY = {
  failingKeys: { ids: new Int32Array(0), operations: new Int32Array(0), failures: new Int32Array(0) } satisfies KeyPart,
  devices: {
    ids: new Int32Array(0), operations: new Int32Array(0), failures: new Int32Array(0),
    rejections: new Int32Array(0), lastRejected: new Float64Array(0),
  } satisfies DevicePart,
  sketch: { registers: new Uint8Array(SKETCH_REGISTERS), floor: 0 } satisfies SketchPart,
};

/** Key rows (k) as one row of text columns, in the same order (every aggregate of a group reads its rows in one order). */
const KEY_COLUMNS = Prisma.sql`
  json_agg(k."keyId")::text AS ids, string_agg(k."operations"::text, ',') AS operations,
  string_agg(k."failures"::text, ',') AS failures`;
/** Device rows (d) likewise; the last rejection in epoch milliseconds, N for none. */
const DEVICE_COLUMNS = Prisma.sql`
  json_agg(d."deviceId")::text AS ids, string_agg(d."operations"::text, ',') AS operations,
  string_agg(d."failures"::text, ',') AS failures, string_agg(d."rateLimited"::text, ',') AS rejections,
  string_agg(coalesce((extract(epoch FROM d."lastRateLimitedAt") * 1000)::bigint::text, 'N'), ',') AS "lastRejected"`;

function ints(text: string | null | undefined, count: number): Int32Array {
  const values = new Int32Array(count);
  if (!text) return values;
  const items = text.split(',');
  for (let i = 0; i < count; i += 1) {
    const value = Number(items[i]);
    if (!(value >= 0 && value <= 0x7fffffff)) throw new Error('a rollup count out of int range');
    values[i] = value;
  }
  return values;
}

function internedIds(text: string | null, table: IdTable): Int32Array {
  const names = text ? (JSON.parse(text) as string[]) : [];
  return Int32Array.from(names, (name) => table.intern(name));
}

function keyPart(text: PartText, table: IdTable): KeyPart {
  const ids = internedIds(text.ids, table);
  return { ids, operations: ints(text.operations, ids.length), failures: ints(text.failures, ids.length) };
}

function devicePart(text: PartText, table: IdTable): DevicePart {
  const ids = internedIds(text.ids, table);
  const lastRejected = new Float64Array(ids.length).fill(Number.NaN);
  (text.lastRejected ?? '').split(',').forEach((value, i) => {
    if (i < ids.length && value !== 'N') lastRejected[i] = Number(value);
  });
  return {
    ids,
    operations: ints(text.operations, ids.length),
    failures: ints(text.failures, ids.length),
    rejections: ints(text.rejections, ids.length),
    lastRejected,
  };
}

/**
 * The raw rows of the plan's ranges, aliased m. Literal range conditions (not a join on
 * an array), so that PostgreSQL prunes the partitions and reads each range by index.
 */
function liveRows(plan: WindowPlan): Prisma.Sql {
  const ranges = plan.raw.map((range) => Prisma.sql`("timestamp" >= ${range.from} AND "timestamp" < ${range.to})`);
  const condition = ranges.length > 0 ? Prisma.join(ranges, ' OR ') : Prisma.sql`false`;
  return Prisma.sql`(SELECT * FROM "EncryptionMetric" WHERE ${condition}) AS m`;
}

/** The plan's rolled-up buckets as a relation used(grain, start). */
function usedBuckets(plan: { buckets: Bucket[] }): Prisma.Sql {
  return Prisma.sql`unnest(${plan.buckets.map((bucket) => bucket.grainSeconds)}::int[],
                           ${isoList(plan.buckets.map((bucket) => bucket.start))}::timestamptz[]) AS used(grain, start)`;
}

import { Inject, Injectable } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '../config';
import { Batch, deleteInsertOnlyBatch, integersOfArrayText, Prisma, PrismaService, SqlNumber, toNumber } from '../database';
import { ErrorCode } from '../common';
import { type MetricEvent, NOT_KEY_FAILURE_REASONS } from './metric-event';
import type { OperationName } from './operations';
import { estimateDevices, mergeSketches, rawDeviceSketch, SKETCH_REGISTERS } from './device-sketch';
import { bucketKey, DEVICE_LIST_GRAIN_SECONDS, planWindow, WindowPlan } from './window-plan';

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

export interface DeviceRow {
  active: SqlNumber;
  /** json_agg: values are JSON numbers and ISO-like timestamp strings. */
  top: { deviceId: string; operations: number; failures: number }[];
  rateLimitedCount: SqlNumber;
  rateLimited: { deviceId: string; rejections: number; lastRejectedAt: string }[];
}

export interface ProblemKeyRow {
  keyId: string;
  operations: SqlNumber;
  failures: SqlNumber;
  matching: SqlNumber;
}

/** A summary's snapshot: repeatable reads, open at most a minute. */
const SNAPSHOT_OPTIONS = { isolationLevel: 'RepeatableRead', maxWait: 10_000, timeout: 60_000 } as const;
/** What pg_export_snapshot() returns, e.g. 00000003-0000001B-1. */
const SNAPSHOT_ID = /^[0-9A-F]+(-[0-9A-F]+)+$/;
/** Problem keys: most primary-key lookups of candidates' bucket rows before reading all of them. */
const MAX_CANDIDATE_PROBES = 50_000;
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
  constructor(
    private readonly prisma: PrismaService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

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
      if (lanes === 1) return work([new MetricsReads(leader)]);
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
                  ready(new MetricsReads(follower));
                  await released;
                }, SNAPSHOT_OPTIONS)
                .catch(failed),
            );
          }),
        );
      }
      try {
        return await work([new MetricsReads(leader), ...(await Promise.all(joined))]);
      } finally {
        release();
        await Promise.allSettled(ended);
      }
    }, SNAPSHOT_OPTIONS);
  }
}

/**
 * The summary's aggregations, each over a WindowPlan: the rollups of the clean buckets
 * inside the window plus the raw rows of the rest (the window's partial hour at its
 * start, the open hour, buckets not rolled up yet). Only aggregates come back.
 * One device's or key's count in a bucket is summed as int (sum() then gives bigint,
 * not numeric, which made the merge about twice as slow); no device or key reaches
 * 2^31 operations in a day.
 */
export class MetricsReads {
  constructor(private readonly db: Db) {}

  /** Which buckets of the window come from rollups and which ranges from raw rows. */
  async plan({ from, to }: MetricWindow): Promise<WindowPlan> {
    const dirty = await this.db.$queryRaw<{ grainSeconds: number; bucketStart: Date }[]>`
      SELECT "grainSeconds", "bucketStart" FROM "MetricRollupDirty"
       WHERE "bucketStart" >= ${from} AND "bucketStart" <= ${to}`;
    return planWindow(from, to, new Set(dirty.map((row) => bucketKey(row.grainSeconds, row.bucketStart.getTime()))));
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
   * hours (a day's through its 24 hours) and the raw rows; the count is exact when every hour listed
   * all its devices (floor 0), else the HyperLogLog estimate of the merged sketches
   * (device-sketch.ts). Rate-limited devices are always listed: exact.
   */
  async devices(plan: WindowPlan, limit: number): Promise<DeviceRow> {
    // A day's device lists are its hours'.
    const lists = plan.buckets.flatMap((bucket) => {
      if (bucket.grainSeconds <= DEVICE_LIST_GRAIN_SECONDS) return [bucket];
      return Array.from({ length: bucket.grainSeconds / DEVICE_LIST_GRAIN_SECONDS }, (_, i) => ({
        grainSeconds: DEVICE_LIST_GRAIN_SECONDS,
        start: new Date(bucket.start.getTime() + i * DEVICE_LIST_GRAIN_SECONDS * 1000),
      }));
    });
    const [row] = await this.db.$queryRaw<(Omit<DeviceRow, 'active'> & { listed: SqlNumber; floor: SqlNumber })[]>`
      WITH per_bucket AS (
        ${rawDeviceAggregates(liveRows(plan))}
        UNION ALL
        SELECT d."deviceId", d."operations", d."failures", d."rateLimited", d."lastRateLimitedAt"
          FROM ${usedBuckets({ buckets: lists, raw: [] })}
          JOIN "MetricDeviceRollup" d ON d."grainSeconds" = used.grain AND d."bucketStart" = used.start
      ), per_device AS MATERIALIZED (
        SELECT "deviceId", sum(operations::int) AS operations, sum(failures::int) AS failures,
               sum("rateLimited"::int) AS rejections, max("lastRateLimitedAt") AS last_rejected
          FROM per_bucket
         GROUP BY "deviceId"
      ), refused AS MATERIALIZED (
        SELECT "deviceId", rejections, last_rejected FROM per_device WHERE rejections > 0
      )
      SELECT (SELECT count(*) FROM per_device) AS listed,
             (SELECT coalesce(max(s."floor"), 0) FROM ${usedBuckets(plan)}
                JOIN "MetricDeviceSketch" s ON s."grainSeconds" = used.grain AND s."bucketStart" = used.start) AS floor,
             (SELECT coalesce(json_agg(json_build_object(
                        'deviceId', "deviceId", 'operations', operations, 'failures', failures)
                      ORDER BY operations DESC, "deviceId" COLLATE "C"), '[]')
                FROM (SELECT * FROM per_device
                       ORDER BY operations DESC, "deviceId" COLLATE "C" LIMIT ${limit}) busiest
             ) AS top,
             (SELECT count(*) FROM refused) AS "rateLimitedCount",
             (SELECT coalesce(json_agg(json_build_object(
                        'deviceId', "deviceId", 'rejections', rejections, 'lastRejectedAt', last_rejected)
                      ORDER BY rejections DESC, "deviceId" COLLATE "C"), '[]')
                FROM (SELECT * FROM refused
                       ORDER BY rejections DESC, "deviceId" COLLATE "C" LIMIT ${limit}) most_refused
             ) AS "rateLimited"`;
    const { listed, floor, ...rest } = row;
    if (toNumber(floor) === 0) return { ...rest, active: listed };
    const sketches = await this.db.$queryRaw<{ registers: Uint8Array }[]>`
      ${rawDeviceSketch(liveRows(plan))}
      UNION ALL
      SELECT s."registers" FROM ${usedBuckets(plan)}
        JOIN "MetricDeviceSketch" s ON s."grainSeconds" = used.grain AND s."bucketStart" = used.start`;
    const merged = mergeSketches(new Uint8Array(SKETCH_REGISTERS), sketches.map((sketch) => sketch.registers));
    return { ...rest, active: estimateDevices(merged) };
  }

  /**
   * Keys with at least `minFailures` failures and a failure rate of at least
   * `minRate` in the window (numeric comparison: 3 of 10 passes 0.3), most failures
   * first, with how many keys passed in all. Exact: candidates (enough failures) come
   * from the keys that failed per bucket (MetricKeyRollup_failing_idx, with the
   * operations of those buckets: a key below the rate there is below it in the window,
   * and is dropped before its other buckets are read) and the raw rows; then their
   * operations: looked up key by key and bucket by bucket while that is at most
   * `maxProbes` lookups, else from every key row of the buckets (PostgreSQL always
   * estimated few candidates, and with every key failing the lookups took seconds).
   */
  problemKeys(
    plan: WindowPlan,
    thresholds: { minFailures: number; minRate: number },
    limit: number,
    maxProbes = MAX_CANDIDATE_PROBES,
  ): Promise<ProblemKeyRow[]> {
    const probedCandidates = Math.floor(maxProbes / Math.max(1, plan.buckets.length));
    return this.db.$queryRaw<ProblemKeyRow[]>`
      WITH used AS MATERIALIZED (
        SELECT * FROM ${usedBuckets(plan)}
      ), raw_keys AS MATERIALIZED (
        ${rawKeyAggregates(liveRows(plan))}
      ), candidates AS (
        SELECT "keyId", sum(failures::int) AS failures
          FROM (SELECT "keyId", failures, operations FROM raw_keys WHERE failures > 0
                UNION ALL
                SELECT k."keyId", k."failures", k."operations"
                  FROM used JOIN "MetricKeyRollup" k
                    ON k."grainSeconds" = used.grain AND k."bucketStart" = used.start AND k."failures" > 0) AS failing
         GROUP BY "keyId"
        HAVING sum(failures::int) >= ${thresholds.minFailures}
           -- The operations of the buckets where a key failed are some of its operations in
           -- the window: short of the rate against those, it is short against all of them.
           AND sum(failures::int) >= ${String(thresholds.minRate)}::numeric * sum(operations::int)
      ), rolled AS (
        -- Few candidates: their row of each bucket, looked up by primary key.
        SELECT k."keyId", sum(k."operations"::int) AS operations
          FROM used JOIN "MetricKeyRollup" k ON k."grainSeconds" = used.grain AND k."bucketStart" = used.start
         WHERE k."keyId" IN (SELECT "keyId" FROM candidates)
           AND (SELECT count(*) FROM candidates) <= ${probedCandidates}
         GROUP BY k."keyId"
        UNION ALL
        -- Many (every key failing at once): each key row of the buckets read once instead.
        SELECT k."keyId", sum(k."operations"::int) AS operations
          FROM used JOIN "MetricKeyRollup" k ON k."grainSeconds" = used.grain AND k."bucketStart" = used.start
         WHERE (SELECT count(*) FROM candidates) > ${probedCandidates}
         GROUP BY k."keyId"
      ), rated AS (
        SELECT c."keyId", c.failures, coalesce(r.operations, 0) + coalesce(k.operations, 0) AS operations
          FROM candidates c
          LEFT JOIN raw_keys r ON r."keyId" = c."keyId"
          LEFT JOIN rolled k ON k."keyId" = c."keyId"
      )
      SELECT "keyId", operations, failures, count(*) OVER () AS matching
        FROM rated
       WHERE failures >= ${String(thresholds.minRate)}::numeric * operations
       ORDER BY failures DESC, "keyId" COLLATE "C"
       LIMIT ${limit}`;
  }
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
function usedBuckets(plan: WindowPlan): Prisma.Sql {
  return Prisma.sql`unnest(${plan.buckets.map((bucket) => bucket.grainSeconds)}::int[],
                           ${isoList(plan.buckets.map((bucket) => bucket.start))}::timestamptz[]) AS used(grain, start)`;
}

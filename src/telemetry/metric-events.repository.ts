import { BeforeApplicationShutdown, Inject, Injectable, Logger } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '../config';
import { Batch, deleteInsertOnlyBatch, integersOfArrayText, Prisma, PrismaService, SqlNumber, toNumber } from '../database';
import { ErrorCode } from '../common';
import { type MetricEvent, NOT_KEY_FAILURE_REASONS } from './metric-event';
import type { OperationName } from './operations';
import { deviceHash, estimateDevices, mergeSketches, packedSketch, unpackSketch } from './device-sketch';
import { Bucket, bucketKey, bucketKeys, FINEST_GRAIN_SECONDS, GRAINS_SECONDS, planWindow, WindowPlan } from './window-plan';
import { KeyPart, OperationAggregateRow, PartKind, PartOf, RollupBucketCache } from './rollup-bucket-cache';
import {
  counts,
  DEVICE_COLUMNS,
  internedIds,
  deviceLists,
  devicePart,
  EMPTY_PARTS,
  hoursOf,
  joined,
  KEY_COLUMNS,
  keyPart,
  PART_SOURCES,
  PartRow,
  PartSource,
  usedBuckets,
} from './bucket-parts';
import {
  DeviceTotals,
  KeyTotals,
  MergedDevices,
  MergedProblemKeys,
  problemKeyTest,
  rankProblemKeys,
  sumKeyParts,
} from './window-merge';

const KEY_GENERATION: OperationName = 'generate';
const HOUR_MS = 60 * 60 * 1000;
const DAY_MS = 24 * HOUR_MS;
/** The grains whose builds a plan reads over the whole window. */
const COARSER_GRAINS = GRAINS_SECONDS.filter((grain) => grain !== FINEST_GRAIN_SECONDS);

/** A time window, both ends included. */
export interface MetricWindow {
  from: Date;
  to: Date;
}

/** The window's devices (summary): `active` exact or the sketches' estimate, lists exact. */
export type WindowDevices = Omit<MergedDevices, 'listed'> & { active: number };

/**
 * Hours of buckets of one kind a summary reads bucket by bucket (and keeps); beyond it,
 * summed (see MetricsReads.parts): a day holds up to a row per key, an hour far fewer.
 */
const READ_EACH_AT_MOST_HOURS = 48;
/** Problem-key candidates whose operations in a window's buckets a process keeps (their names go with each summary's raw query). */
const MAX_KEPT_CANDIDATES = 1_000;
/** Devices: the busiest listed ones (this many times the list's length) read with the raw rows' busiest, in one query. */
const LIKELY_UNCERTAIN_DEVICES = 10;
/** Buckets read per snapshot group when keeping them in the background (a day's failing keys: up to one row per key). */
const KEEP_AT_ONCE = 4;
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

/** What a process keeps of a window's buckets as a whole (see MetricsReads.keptWindow). */
interface KeptWindow {
  failing?: KeyTotals;
  /** Candidates' operations in the buckets, by id. */
  candidates: Map<number, number>;
}

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
export class MetricEventsRepository implements BeforeApplicationShutdown {
  private readonly logger = new Logger(MetricEventsRepository.name);
  /** Closed buckets' rollups already read by this process (rollup-bucket-cache.ts). */
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
    void run.then(() => this.keepWanted(), () => undefined);
    return run;
  }

  async beforeApplicationShutdown() {
    this.stopping = true;
    await this.keeping;
  }

  /** What this process keeps of closed buckets for the summary: entries, bytes, interned ids. */
  keptRollups(): { entries: number; bytes: number; ids: number } {
    return this.bucketCache.size;
  }

  /** Resolves once the background keeping of buckets (see keepWanted) is done. */
  async keepingDone(): Promise<void> {
    while (this.keeping) await this.keeping;
  }

  private keeping?: Promise<void>;
  private stopping = false;
  private toKeep: { kind: PartKind; buckets: Bucket[] }[] = [];

  /**
   * Reads and keeps, in the background, the buckets a summary read summed: a few at a
   * time, each in its own snapshot group (queued like summaries, so a summary waits for
   * one group at most). A failure drops the rest: the next summary wants them again.
   */
  private keepWanted() {
    this.toKeep.push(...this.bucketCache.takeWanted());
    if (this.toKeep.length === 0 || this.keeping) return;
    this.keeping = (async () => {
      for (let job = this.toKeep.shift(); job && !this.stopping; job = this.toKeep.shift()) {
        const { kind, buckets } = job;
        for (let i = 0; i < buckets.length && !this.stopping; i += KEEP_AT_ONCE) {
          await this.inSnapshot(([reads]) => reads.keep(kind, buckets.slice(i, i + KEEP_AT_ONCE)));
        }
      }
    })()
      .catch((error) => {
        this.toKeep = [];
        this.logger.warn({ errorName: (error as Error)?.name, code: (error as { code?: unknown })?.code }, 'keeping metric rollups in memory failed');
      })
      .finally(() => (this.keeping = undefined));
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

/**
 * The summary's aggregations, each over a WindowPlan: the rollups of the clean buckets
 * inside the window plus the raw rows of the rest (the window's partial 10 minutes at
 * its start, the open 10 minutes, buckets not rolled up yet). Buckets' rows come from
 * what this process keeps (RollupBucketCache, by build number) or are read and kept
 * (bucket-parts.ts); devices and problem keys are merged in memory (window-merge.ts).
 */
export class MetricsReads {
  constructor(
    private readonly db: Db,
    private readonly cache: RollupBucketCache,
  ) {}

  /**
   * Which buckets of the window come from rollups and which ranges from raw rows, and the
   * build numbers of its days and hours (with the hours of its days: their device lists)
   * and of its 10 minutes within an hour of either end, where the plan reads 10 minutes
   * (also inside an hour still dirty, rare and brief: such a bucket is read, not kept).
   * One statement: the summary's lanes wait for it.
   */
  async plan({ from, to }: MetricWindow): Promise<WindowPlan> {
    const nearStart = new Date(from.getTime() + HOUR_MS);
    const nearEnd = new Date(to.getTime() - HOUR_MS);
    const [row] = await this.db.$queryRaw<{ dirty: string | null; builds: string | null }[]>`
      SELECT (SELECT string_agg(${bucketKeyText('d')}, ',') FROM "MetricRollupDirty" d
               WHERE d."bucketStart" >= ${from} AND d."bucketStart" <= ${to}) AS dirty,
             (SELECT ${BUILD_NUMBERS_TEXT} FROM "MetricRollupBuild" b
               WHERE b."grainSeconds" = ANY(${COARSER_GRAINS}::int[]) AND b."bucketStart" >= ${from} AND b."bucketStart" <= ${to}
                  OR b."grainSeconds" = ${FINEST_GRAIN_SECONDS}
                     AND (b."bucketStart" BETWEEN ${from} AND ${nearStart} OR b."bucketStart" BETWEEN ${nearEnd} AND ${to})) AS builds`;
    const dirty = new Set(row.dirty ? row.dirty.split(',') : []);
    return { ...planWindow(from, to, dirty), builds: buildNumbers(row.builds) };
  }

  /**
   * Per (operation, status, errorReason) of each part of the window (its raw rows, each
   * bucket): counts, durations and the histogram; the summary sums them. The raw rows'
   * are aggregated in SQL, their histograms sent as array text (decoding number arrays
   * through the driver and Prisma cost about 20 ms of JavaScript for 640 rows).
   */
  async operations(plan: WindowPlan): Promise<OperationAggregateRow[]> {
    const raw = await this.db.$queryRaw<(Omit<OperationAggregateRow, 'bins' | 'counts'> & { bins: string; counts: string })[]>`
      SELECT "operation", "status", "errorReason", "count", "sumMicros", "minMicros", "maxMicros",
             bins::text AS bins, counts::text AS counts
        FROM (${rawOperationAggregates(liveRows(plan))}) AS aggregates`;
    const buckets = await this.parts('operations', plan.buckets, plan.builds);
    return [
      ...raw.map((row) => ({ ...row, bins: integersOfArrayText(row.bins), counts: integersOfArrayText(row.counts) })),
      ...buckets.flatMap((part) => part.rows),
    ];
  }

  /**
   * How many devices were active, the busiest `limit`, and the devices refused a key
   * generation by the rate limit, from the device lists of 10 minutes and hours (a day's
   * through its 24 hours) and the raw rows. When every bucket listed all its devices
   * (floor 0), the count is exact: every raw device is merged with the lists. Otherwise
   * the count is the HyperLogLog estimate of the merged sketches (device-sketch.ts; the
   * raw rows' sketch made in SQL) and of the raw rows' devices only those that can change
   * the lists come to memory (see addDevicesThatMatter). Rate-limited devices are always listed: exact.
   */
  async devices(plan: WindowPlan, limit: number): Promise<WindowDevices> {
    const table = this.cache.ids;
    const sketches = await this.parts('sketch', plan.buckets, plan.builds);
    const totals = new DeviceTotals(table).add(...(await this.parts('devices', deviceLists(plan.buckets), plan.builds)));
    if (sketches.every((sketch) => sketch.floor === 0)) {
      const [raw] = await this.db.$queryRaw<PartRow[]>`
        SELECT ${DEVICE_COLUMNS} FROM (${rawDeviceAggregates(liveRows(plan))}) AS d`;
      const { listed, ...merged } = totals.add(devicePart(raw, table)).merged(limit);
      return { ...merged, active: listed };
    }
    const registers = await this.addDevicesThatMatter(plan, totals, limit);
    const { top, rateLimitedCount, rateLimited } = totals.merged(limit);
    return { top, rateLimitedCount, rateLimited, active: estimateDevices(mergeSketches(registers, sketches.map((part) => part.registers))) };
  }

  /**
   * Adds to `totals` (the window's device lists) those of the raw rows' devices that can
   * change the lists, and returns the raw rows' sketch. Those devices: the rate-limited
   * ones, the `limit` busiest by their raw operations (then by id), and the listed devices
   * whose raw operations could lift them among the `limit` busiest (DeviceTotals.uncertain),
   * most of them asked for in the first query (the busiest listed), any others in a
   * second. Any other raw device is preceded by the `limit` busiest raw ones (their window
   * count is at least their raw count, which is at least its own): it cannot be listed.
   * So the lists equal those merged from every raw device, while 10 minutes of the 24 h
   * bench send 70 devices, not 6,000.
   */
  private async addDevicesThatMatter(plan: WindowPlan, totals: DeviceTotals, limit: number): Promise<Uint8Array> {
    const table = this.cache.ids;
    const h = Prisma.sql`d.h`;
    const likely = totals.busiest(LIKELY_UNCERTAIN_DEVICES * limit);
    const [row] = await this.db.$queryRaw<(PartRow & { sketch: string | null; nth: SqlNumber | null })[]>`
      WITH d AS MATERIALIZED (
        SELECT a.*, ${deviceHash(Prisma.sql`a."deviceId"`)} AS h FROM (${rawDeviceAggregates(liveRows(plan))}) AS a),
      busiest AS (SELECT d."deviceId", d."operations" FROM d ORDER BY d."operations" DESC, d."deviceId" COLLATE "C" LIMIT ${limit})
      SELECT (${packedSketch(h, Prisma.sql`d`)}) AS sketch,
             (SELECT min(busiest."operations") FROM busiest HAVING count(*) = ${limit}) AS nth,
             ${DEVICE_COLUMNS}
        FROM d
       WHERE d."rateLimited" > 0 OR d."deviceId" IN (SELECT busiest."deviceId" FROM busiest)
          OR d."deviceId" = ANY(${likely.map((id) => table.names[id])}::text[])`;
    const known = devicePart(row, table);
    totals.add(known);
    // Fewer than `limit` raw devices: all of them came, the others have no raw operation.
    const uncertain = totals.uncertain([...known.ids, ...likely], toNumber(row.nth ?? 0), limit);
    if (uncertain.length > 0) {
      const [more] = await this.db.$queryRaw<PartRow[]>`
        SELECT ${DEVICE_COLUMNS}
          FROM (${rawDeviceAggregates(liveRows(plan))}) AS d
         WHERE d."deviceId" = ANY(${uncertain.map((id) => table.names[id])}::text[])`;
      totals.add(devicePart(more, table));
    }
    return unpackSketch(row.sketch);
  }

  /**
   * Keys with at least `minFailures` failures and a failure rate of at least `minRate`
   * in the window (exact decimal comparison: 3 of 10 passes 0.3), most failures first
   * (then by id), with how many keys passed in all. Exact: every failure is in the rows
   * of the keys that failed per bucket or in the raw rows, so candidates (enough
   * failures) are found in memory; a key below the rate against the operations of the
   * buckets where it failed (and of the raw rows, if it failed there) is below it in the
   * window, and dropped. Then the candidates' operations in the whole window: for those
   * an earlier summary over the same buckets looked up (kept: keptWindow), their bucket
   * operations as kept and their raw ones read with the raw rows' keys; for the others,
   * in the buckets looked up key by key and bucket by bucket while that is at most
   * `maxProbes` lookups, else from every key row of the buckets (with every key failing,
   * lookups took seconds), and in the raw rows. Of the raw rows' other keys only those
   * that failed come to memory (a few hundred of the 6,000 keys of 10 minutes in the bench).
   */
  async problemKeys(
    plan: WindowPlan,
    thresholds: { minFailures: number; minRate: number },
    limit: number,
    maxProbes = MAX_CANDIDATE_PROBES,
  ): Promise<MergedProblemKeys> {
    const table = this.cache.ids;
    const kept = this.keptWindow(plan);
    // The raw rows' keys that failed, and those whose operations in the buckets are kept (earlier
    // candidates): the others' raw operations are read for the candidates below.
    const [rawRow] = await this.db.$queryRaw<PartRow[]>`
      SELECT ${KEY_COLUMNS} FROM (${rawKeyAggregates(liveRows(plan))}) AS k
       WHERE k."failures" > 0 OR k."keyId" = ANY(${[...kept.candidates.keys()].map((id) => table.names[id])}::text[])`;
    const raw = keyPart(rawRow, table);
    const whereFailed = (await this.candidatesInSql(plan, raw, thresholds)) ?? sumKeyParts([raw], table, await this.failingKeysSummed(plan, kept));
    const passes = problemKeyTest(thresholds);
    const candidates = whereFailed.failing.filter((id) => passes(whereFailed.failures[id], whereFailed.operations[id]));
    if (candidates.length === 0 || plan.buckets.length === 0) {
      return rankProblemKeys(candidates, whereFailed, table, thresholds, limit);
    }
    const operations = new Float64Array(table.names.length);
    for (let row = 0; row < raw.ids.length; row += 1) operations[raw.ids[row]] = raw.operations[row];
    for (const id of candidates) operations[id] += kept.candidates.get(id) ?? 0;
    const unknown = candidates.filter((id) => !kept.candidates.has(id));
    if (unknown.length > 0) {
      const names = unknown.map((id) => table.names[id]);
      const probe = unknown.length * plan.buckets.length <= maxProbes;
      const [row] = await this.db.$queryRaw<{ ids: string | null; buckets: string | null; raw: string | null }[]>`
        SELECT json_agg(k."keyId")::text AS ids, string_agg(k."inBuckets"::text, ',') AS buckets, string_agg(k."inRaw"::text, ',') AS raw
          FROM (SELECT "keyId", sum("inBuckets") AS "inBuckets", sum("inRaw") AS "inRaw"
                  FROM (SELECT k."keyId", k."operations"::int AS "inBuckets", 0 AS "inRaw"
                          FROM ${joined('MetricKeyRollup', 'k', usedBuckets(plan.buckets))}
                         WHERE ${probe
                           // Few candidates: their row of each bucket, looked up by primary key.
                           ? Prisma.sql`k."keyId" = ANY(${names}::text[])`
                           // Many: each key row of the buckets read once, matched against them by hash.
                           : Prisma.sql`k."keyId" IN (SELECT unnest(${names}::text[]))`}
                        UNION ALL
                        SELECT m."keyId", 0, 1 FROM ${liveRows(plan)} WHERE m."keyId" = ANY(${names}::text[])) AS rows
                 GROUP BY 1) AS k`;
      const ids = internedIds(row.ids, table);
      const inBuckets = counts(row.buckets, ids.length, true);
      const inRaw = counts(row.raw, ids.length, true);
      ids.forEach((id, i) => {
        // Their raw operations came here, not with the raw rows' (unless they failed there: counted once).
        operations[id] = inBuckets[i] + inRaw[i];
        if (kept.candidates.size < MAX_KEPT_CANDIDATES) kept.candidates.set(id, inBuckets[i]);
      });
    }
    const failures = new Float64Array(operations.length);
    for (const id of candidates) failures[id] = whereFailed.failures[id];
    return rankProblemKeys(candidates, { operations, failures }, table, thresholds, limit);
  }

  /**
   * When the process keeps none of the window's failing keys and the window is long
   * (its first summary): the candidates found in SQL, as the totals of their failing
   * rows (with the raw rows' failing keys, passed in), instead of a row per key that
   * failed anywhere (50,000 at 720 h in the bench; all keys of a big deployment); the
   * buckets are then kept in the background. Otherwise undefined.
   */
  private async candidatesInSql(
    plan: WindowPlan,
    raw: KeyPart,
    thresholds: { minFailures: number; minRate: number },
  ): Promise<KeyTotals | undefined> {
    if (hoursOf(plan.buckets) <= READ_EACH_AT_MOST_HOURS) return undefined;
    const keys = bucketKeys(plan.buckets);
    if (keys.some((key) => this.cache.get('failingKeys', key, plan.builds.get(key)) !== undefined)) return undefined;
    const table = this.cache.ids;
    const rawFailing = [...raw.ids.keys()].filter((row) => raw.failures[row] > 0);
    const [row] = await this.db.$queryRaw<PartRow[]>`
      SELECT ${KEY_COLUMNS}
        FROM (SELECT "keyId", sum(operations) AS operations, sum(failures) AS failures
                FROM (SELECT k."keyId", k."operations"::int AS operations, k."failures"::int AS failures
                        FROM ${joined('MetricKeyRollup', 'k', usedBuckets(plan.buckets), Prisma.sql`AND k."failures" > 0`)}
                      UNION ALL
                      SELECT * FROM unnest(${rawFailing.map((i) => table.names[raw.ids[i]])}::text[],
                                           ${rawFailing.map((i) => raw.operations[i])}::int[],
                                           ${rawFailing.map((i) => raw.failures[i])}::int[])) AS failing
               GROUP BY 1
              HAVING sum(failures) >= ${thresholds.minFailures}
                 AND sum(failures) >= ${String(thresholds.minRate)}::numeric * sum(operations)) AS k`;
    this.cache.want('failingKeys', plan.buckets);
    return sumKeyParts([keyPart(row, table)], table);
  }

  /**
   * What this process keeps of the plan's buckets as a whole (RollupBucketCache.window),
   * when every one of them has a build number: the sum of their failing keys, and the
   * operations in them of problem-key candidates (up to MAX_KEPT_CANDIDATES).
   */
  private keptWindow(plan: WindowPlan): KeptWindow {
    const keys = bucketKeys(plan.buckets);
    const made = (): KeptWindow => ({ candidates: new Map() });
    if (!keys.every((key) => plan.builds.has(key))) return made();
    return this.cache.window(keys.map((key) => `${key}@${plan.builds.get(key)}`).join(','), made);
  }

  /** The failing keys of the plan's buckets summed: kept, or summed now (and kept). */
  private async failingKeysSummed(plan: WindowPlan, kept: KeptWindow): Promise<KeyTotals> {
    kept.failing ??= sumKeyParts(await this.parts('failingKeys', plan.buckets, plan.builds), this.cache.ids);
    return kept.failing;
  }

  /** Reads and keeps the parts of `buckets` this process lacks, at their build numbers now (the background filling). */
  async keep(kind: PartKind, buckets: Bucket[]): Promise<void> {
    await this.parts(kind, buckets, await this.builds(buckets), 'keep');
  }

  /** The build numbers of `buckets` that were built (bucketKey: build), as one text row: some 750 at 720 h. */
  private async builds(buckets: Bucket[]): Promise<Map<string, string>> {
    if (buckets.length === 0) return new Map();
    const [{ text }] = await this.db.$queryRaw<{ text: string | null }[]>`
      SELECT ${BUILD_NUMBERS_TEXT} AS text FROM ${joined('MetricRollupBuild', 'b', usedBuckets(buckets))}`;
    return buildNumbers(text);
  }

  /**
   * The parts of `buckets` of one kind: those kept, and the others read from the
   * database. A summary that lacks buckets covering more than READ_EACH_AT_MOST_HOURS of
   * a big kind (devices, failing keys) reads them summed into one part and leaves them to
   * be kept in the background (RollupBucketCache.want): bucket by bucket, its first summary
   * would send every row of every bucket (about 3 s at 720 h in the bench, against 1 s summed).
   * Otherwise each bucket's rows are read and kept; a bucket without rows has an empty part.
   */
  private async parts<K extends PartKind>(kind: K, buckets: Bucket[], builds: ReadonlyMap<string, string>, mode: 'summary' | 'keep' = 'summary') {
    const source = PART_SOURCES[kind] as PartSource<K>;
    const table = this.cache.ids;
    const keys = bucketKeys(buckets);
    const parts = keys.map((key) => this.cache.get(kind, key, builds.get(key)));
    const missing = buckets.filter((_, i) => parts[i] === undefined);
    if (missing.length === 0) return parts as PartOf<K>[];
    if (mode === 'summary' && source.together && hoursOf(missing) > READ_EACH_AT_MOST_HOURS) {
      const [row] = await this.db.$queryRaw<PartRow[]>(source.together(usedBuckets(missing)));
      this.cache.want(kind, missing);
      return [...(parts.filter((part) => part !== undefined) as PartOf<K>[]), source.decode(row, table)];
    }
    const found = new Map<string, PartOf<K>>();
    for (const row of await this.db.$queryRaw<PartRow[]>(source.each(usedBuckets(missing)))) {
      found.set(bucketKey(row.grain, row.start.getTime()), source.decode(row, table));
    }
    return keys.map((key, i) => {
      const kept = parts[i];
      if (kept !== undefined) return kept;
      const part = found.get(key) ?? EMPTY_PARTS[kind];
      this.cache.put(kind, key, builds.get(key), part);
      return part;
    });
  }
}

/** A bucket's bucketKey (grain:start in epoch ms), in SQL over the grain and start columns of `alias`. */
function bucketKeyText(alias: string): Prisma.Sql {
  return Prisma.raw(`${alias}."grainSeconds" || ':' || (extract(epoch FROM ${alias}."bucketStart") * 1000)::bigint`);
}

/** MetricRollupBuild rows (b) as one text: bucketKey:build, comma-separated. */
const BUILD_NUMBERS_TEXT = Prisma.sql`string_agg(${bucketKeyText('b')} || ':' || b."build", ',')`;

/** Build numbers (BUILD_NUMBERS_TEXT) by bucketKey. */
function buildNumbers(text: string | null): Map<string, string> {
  const builds = new Map<string, string>();
  for (const entry of text ? text.split(',') : []) {
    const at = entry.lastIndexOf(':');
    builds.set(entry.slice(0, at), entry.slice(at + 1));
  }
  return builds;
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

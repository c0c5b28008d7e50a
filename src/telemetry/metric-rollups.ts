import { BeforeApplicationShutdown, Inject, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { Clock } from '../common';
import { APP_CONFIG, type AppConfig } from '../config';
import { Prisma, PrismaService } from '../database';
import { DEVICE_LIST_SIZE, mergedSketch, rawDeviceSketch } from './device-sketch';
import { rawDeviceAggregates, rawKeyAggregates, rawOperationAggregates } from './metric-events.repository';
import { BUILT_FROM } from './window-plan';

const DAY_MS = 24 * 60 * 60 * 1000;
/** Day partitions made ahead of time (start-up and the daily job): today and the next 7. */
export const PARTITIONS_AHEAD_DAYS = 7;
/** How often the step's timer also makes the partitions ahead. */
const PARTITIONS_CHECK_MS = 60 * 60_000;
/** Dirty buckets read per pass. */
const PASS_SIZE = 500;
/** One bucket's build (an hour of raw rows) may take a while at a high rate. */
const BUILD_TIMEOUT_MS = 10 * 60_000;

const ROLLUP_TABLES = ['MetricRollup', 'MetricDeviceRollup', 'MetricDeviceSketch', 'MetricKeyRollup'];
/** A built bucket's build number (rollup-bucket-cache.ts): not counted as rollup rows. */
const BUILD_TABLE = 'MetricRollupBuild';

type Outcome = 'built' | 'busy' | 'gone' | 'waiting' | 'expired';

/** What one run of the rollup step did. */
export interface RollupRun {
  /** False when another process was building (it finishes the work). */
  acquired: boolean;
  built: number;
  /** Marks of buckets older than the raw retention, dropped without a rebuild. */
  expired: number;
}

class Rollback extends Error {}

/**
 * The rollup step: builds MetricRollup, MetricDeviceRollup and MetricKeyRollup for
 * every closed bucket marked in MetricRollupDirty (the insert trigger marks the hour
 * and the day of every row, however it was inserted: the recorder, a bulk import, a
 * COPY into a partition, the upgrade migration). Each bucket is rebuilt whole in its
 * own transaction (delete and insert: idempotent, resumable, a crash loses at most
 * the bucket in flight), so marks left by downtime are simply caught up with.
 * 10 minutes and hours come from the raw rows, days from their 24 hours (a day waits
 * while one of its hours is dirty). One process at a time (a transaction advisory try-lock per
 * bucket: a busy lock ends this run); runs at start-up and every
 * METRICS_ROLLUP_INTERVAL_MS.
 *
 * Why a clean mark is exact: the step deletes the mark FIRST, which waits for any
 * insert still holding it (the trigger locks it), then reads the rows in a later
 * statement; an insert that comes after re-marks the bucket. So a bucket without a
 * mark has rollups equal to its raw rows (rows deleted by hand are not tracked).
 */
@Injectable()
export class MetricRollups implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(MetricRollups.name);
  private timer?: NodeJS.Timeout;
  private running?: Promise<RollupRun>;
  private stopping = false;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly prisma: PrismaService,
    private readonly clock: Clock,
  ) {}

  /** Day partitions ahead, then a first run, in the background: start-up does not wait. */
  onApplicationBootstrap() {
    void this.ensurePartitionsAhead()
      .then(() => this.run())
      .catch((error) => this.failed(error));
    let partitionsMadeAt = Date.now();
    this.timer = setInterval(() => {
      if (this.running) return;
      // Partitions ahead also without the daily job (cron off, or a replica alone for days).
      const ahead = Date.now() - partitionsMadeAt >= PARTITIONS_CHECK_MS
        ? this.ensurePartitionsAhead().then(() => (partitionsMadeAt = Date.now()))
        : Promise.resolve();
      ahead.then(() => this.run()).catch((error) => this.failed(error));
    }, this.config.metrics.rollupIntervalMs);
    this.timer.unref();
  }

  async beforeApplicationShutdown() {
    this.stopping = true;
    clearInterval(this.timer);
    await this.running?.catch(() => undefined);
  }

  /** Today's partition and the next PARTITIONS_AHEAD_DAYS (by the clock). */
  async ensurePartitionsAhead(): Promise<number> {
    const now = this.clock.now();
    const [{ created }] = await this.prisma.$queryRaw<{ created: number }[]>`
      SELECT count(*) FILTER (WHERE "kms_metric_partition_ensure"(day::date))::int AS created
        FROM generate_series((${now.toISOString()}::timestamptz AT TIME ZONE 'UTC')::date,
                             (${new Date(now.getTime() + PARTITIONS_AHEAD_DAYS * DAY_MS).toISOString()}::timestamptz AT TIME ZONE 'UTC')::date,
                             interval '1 day') AS day`;
    return created;
  }

  /** Builds every closed dirty bucket; a run already under way is joined. */
  run(): Promise<RollupRun> {
    this.running ??= this.buildAll().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  /** Rollups of buckets ended METRICS_ROLLUP_RETENTION_DAYS ago: deleted (all grains). Returns rows deleted. */
  async deleteExpired(now: Date): Promise<number> {
    const cutoff = new Date(now.getTime() - this.config.metrics.rollupRetentionDays * DAY_MS);
    const ended = Prisma.sql`"bucketStart" < ${cutoff} AND "bucketStart" + make_interval(secs => "grainSeconds") <= ${cutoff}`;
    const counts = await this.prisma.$transaction(
      [...ROLLUP_TABLES, BUILD_TABLE, 'MetricRollupDirty'].map((table) =>
        this.prisma.$executeRaw`DELETE FROM ${Prisma.raw(`"${table}"`)} WHERE ${ended}`),
    );
    return counts.slice(0, ROLLUP_TABLES.length).reduce((sum, count) => sum + count, 0);
  }

  private async buildAll(): Promise<RollupRun> {
    const result: RollupRun = { acquired: true, built: 0, expired: 0 };
    for (;;) {
      const now = this.clock.now();
      const rawCutoff = new Date(now.getTime() - this.config.metrics.retentionDays * DAY_MS);
      const dirty = await this.prisma.$queryRaw<{ grainSeconds: number; bucketStart: Date }[]>`
        SELECT "grainSeconds", "bucketStart" FROM "MetricRollupDirty"
         WHERE "bucketStart" + make_interval(secs => "grainSeconds") <= ${now}
         ORDER BY "grainSeconds", "bucketStart"
         LIMIT ${PASS_SIZE}`;
      let progress = 0;
      for (const { grainSeconds, bucketStart } of dirty) {
        if (this.stopping) return result;
        const outcome = await this.build(grainSeconds, bucketStart, rawCutoff);
        if (outcome === 'busy') return { ...result, acquired: false };
        if (outcome === 'built') result.built += 1;
        if (outcome === 'expired') result.expired += 1;
        if (outcome !== 'waiting') progress += 1;
      }
      if (progress === 0) break;
    }
    if (result.built > 0) this.logger.debug(result, 'metric rollups built');
    return result;
  }

  /** One bucket, in its own transaction (READ COMMITTED: each statement sees what committed before it). */
  private async build(grainSeconds: number, start: Date, rawCutoff: Date): Promise<Outcome> {
    const end = new Date(start.getTime() + grainSeconds * 1000);
    try {
      return await this.prisma.$transaction(
        async (tx) => {
          const [{ locked }] = await tx.$queryRaw<{ locked: boolean }[]>`
            SELECT pg_try_advisory_xact_lock(hashtextextended('kms:metric-rollup', 0)) AS locked`;
          if (!locked) return 'busy';
          const cleared = await tx.$executeRaw`
            DELETE FROM "MetricRollupDirty" WHERE "grainSeconds" = ${grainSeconds} AND "bucketStart" = ${start}`;
          if (cleared === 0) return 'gone';
          const finer = BUILT_FROM[grainSeconds];
          // Raw rows before the cutoff may be gone already: keep the rollup built when they were there.
          if (finer === null && start < rawCutoff) return 'expired';
          if (finer !== null) {
            const [{ waiting }] = await tx.$queryRaw<{ waiting: boolean }[]>`
              SELECT EXISTS (SELECT 1 FROM "MetricRollupDirty"
                              WHERE "grainSeconds" = ${finer} AND "bucketStart" >= ${start} AND "bucketStart" < ${end}) AS waiting`;
            if (waiting) throw new Rollback();
          }
          for (const table of [...ROLLUP_TABLES, BUILD_TABLE]) {
            await tx.$executeRaw`DELETE FROM ${Prisma.raw(`"${table}"`)} WHERE "grainSeconds" = ${grainSeconds} AND "bucketStart" = ${start}`;
          }
          if (finer === null) await this.buildFromRaw(tx, grainSeconds, start, end);
          else await this.buildFromFiner(tx, grainSeconds, finer, start, end);
          // A new number (the sequence's next): what processes keep of the old build is stale.
          await tx.$executeRaw`INSERT INTO "MetricRollupBuild" ("grainSeconds", "bucketStart") VALUES (${grainSeconds}, ${start})`;
          return 'built';
        },
        { maxWait: 10_000, timeout: BUILD_TIMEOUT_MS },
      );
    } catch (error) {
      if (error instanceof Rollback) return 'waiting';
      throw error;
    }
  }

  private async buildFromRaw(tx: Prisma.TransactionClient, grainSeconds: number, start: Date, end: Date) {
    const source = Prisma.sql`(SELECT * FROM "EncryptionMetric" WHERE "timestamp" >= ${start} AND "timestamp" < ${end}) AS m`;
    const bucket = Prisma.sql`${grainSeconds}::int, ${start}::timestamptz`;
    await tx.$executeRaw`
      INSERT INTO "MetricRollup" ("grainSeconds", "bucketStart", "operation", "status", "errorReason", "count",
                                  "sumMicros", "minMicros", "maxMicros", "histogramBins", "histogramCounts")
      SELECT ${bucket}, * FROM (${rawOperationAggregates(source)}) AS aggregates`;
    // The bucket's busiest devices and its rate-limited ones; the sketch, and the floor that
    // bounds every device not listed (0: all listed).
    const size = Prisma.raw(String(DEVICE_LIST_SIZE));
    await tx.$executeRaw`
      WITH devices AS MATERIALIZED (
        SELECT aggregates.*, row_number() OVER (ORDER BY operations DESC, "deviceId" COLLATE "C") AS place,
               count(*) OVER () AS devices
          FROM (${rawDeviceAggregates(source)}) AS aggregates
      ), listed AS (
        INSERT INTO "MetricDeviceRollup" ("grainSeconds", "bucketStart", "deviceId", "operations", "failures", "rateLimited", "lastRateLimitedAt")
        SELECT ${bucket}, "deviceId", operations, failures, "rateLimited", "lastRateLimitedAt"
          FROM devices WHERE place <= ${size} OR "rateLimited" > 0
      )
      INSERT INTO "MetricDeviceSketch" ("grainSeconds", "bucketStart", "registers", "floor")
      SELECT ${bucket}, (${rawDeviceSketch(source)}),
             coalesce((SELECT operations FROM devices WHERE place = ${size} AND devices > ${size}), 0)`;
    await tx.$executeRaw`
      INSERT INTO "MetricKeyRollup" ("grainSeconds", "bucketStart", "keyId", "operations", "failures")
      SELECT ${bucket}, * FROM (${rawKeyAggregates(source)}) AS aggregates`;
  }

  private async buildFromFiner(tx: Prisma.TransactionClient, grainSeconds: number, finer: number, start: Date, end: Date) {
    const bucket = Prisma.sql`${grainSeconds}::int, ${start}::timestamptz`;
    const inside = Prisma.sql`"grainSeconds" = ${finer} AND "bucketStart" >= ${start} AND "bucketStart" < ${end}`;
    await tx.$executeRaw`
      WITH finer AS (
        SELECT * FROM "MetricRollup" WHERE ${inside}
      ), totals AS (
        SELECT "operation", "status", "errorReason", sum("count") AS "count", sum("sumMicros") AS "sumMicros",
               min("minMicros") AS "minMicros", max("maxMicros") AS "maxMicros"
          FROM finer GROUP BY 1, 2, 3
      ), bins AS (
        SELECT "operation", "status", "errorReason", h.bin, sum(h.n) AS n
          FROM finer CROSS JOIN LATERAL unnest("histogramBins", "histogramCounts") AS h(bin, n)
         GROUP BY 1, 2, 3, 4
      ), histograms AS (
        SELECT "operation", "status", "errorReason", array_agg(bin ORDER BY bin) AS bins, array_agg(n ORDER BY bin) AS counts
          FROM bins GROUP BY 1, 2, 3
      )
      INSERT INTO "MetricRollup" ("grainSeconds", "bucketStart", "operation", "status", "errorReason", "count",
                                  "sumMicros", "minMicros", "maxMicros", "histogramBins", "histogramCounts")
      SELECT ${bucket}, t."operation", t."status", t."errorReason", t."count", t."sumMicros", t."minMicros", t."maxMicros",
             h.bins, h.counts
        FROM totals t
        JOIN histograms h ON h."operation" = t."operation" AND h."status" = t."status"
                         AND h."errorReason" IS NOT DISTINCT FROM t."errorReason"`;
    // No device list per day (the summary reads a day's through its hours); sketches merge exactly.
    await tx.$executeRaw`
      WITH finer AS (SELECT * FROM "MetricDeviceSketch" WHERE ${inside})
      INSERT INTO "MetricDeviceSketch" ("grainSeconds", "bucketStart", "registers", "floor")
      SELECT ${bucket}, (${mergedSketch(Prisma.sql`finer`)}), max("floor")
        FROM finer HAVING count(*) > 0`;
    await tx.$executeRaw`
      INSERT INTO "MetricKeyRollup" ("grainSeconds", "bucketStart", "keyId", "operations", "failures")
      SELECT ${bucket}, "keyId", sum("operations"), sum("failures")
        FROM "MetricKeyRollup" WHERE ${inside} GROUP BY "keyId"`;
  }

  private failed(error: unknown) {
    this.logger.warn({ errorName: (error as Error)?.name, code: (error as { code?: unknown })?.code }, 'metric rollup step failed; the next run retries');
  }
}

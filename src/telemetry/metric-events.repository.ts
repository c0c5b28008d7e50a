import { Injectable } from '@nestjs/common';
import { Batch, deleteInsertOnlyBatch, Prisma, PrismaService, SqlNumber } from '../database';
import { ErrorCode } from '../common';
import type { MetricEvent } from './metric-event';
import type { OperationName } from './operations';

const KEY_GENERATION: OperationName = 'generate';

/** A time window, both ends included. */
export interface MetricWindow {
  from: Date;
  to: Date;
}


export interface OperationRow {
  operation: string;
  total: SqlNumber;
  successes: SqlNumber;
  failures: SqlNumber;
  avg: SqlNumber;
  /** percentile_cont at 0.5, 0.95, 0.99. */
  percentiles: number[];
  max: SqlNumber;
}

export interface FailureRow {
  operation: string;
  reason: string;
  count: SqlNumber;
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

/** Longest a summary's snapshot may stay open. */
const SNAPSHOT_TIMEOUT_MS = 60_000;

/**
 * The EncryptionMetric table (owned by telemetry): the recorder's batched writes,
 * the daily job's retention, and the snapshot the metrics report reads in.
 */
@Injectable()
export class MetricEventsRepository {
  constructor(private readonly prisma: PrismaService) {}

  async insertMany(events: MetricEvent[]): Promise<void> {
    await this.prisma.encryptionMetric.createMany({ data: events });
  }

  /** A batch of rows older than `cutoff`, oldest first from `after` (METRICS_RETENTION_DAYS). */
  deleteBefore(cutoff: Date, after: Date | null, limit: number): Promise<Batch<Date>> {
    return deleteInsertOnlyBatch(this.prisma, 'EncryptionMetric', 'timestamp', Prisma.sql`"timestamp" < ${cutoff}`, after, limit);
  }

  /**
   * Runs `work` in one REPEATABLE READ transaction: every figure of a summary comes
   * from the same snapshot (totals agree with failures by reason, even while rows
   * are written), and a summary holds one pooled connection, not five.
   */
  inSnapshot<T>(work: (reads: MetricsReads) => Promise<T>): Promise<T> {
    return this.prisma.$transaction((tx) => work(new MetricsReads(tx)), {
      isolationLevel: 'RepeatableRead',
      maxWait: 10_000,
      timeout: SNAPSHOT_TIMEOUT_MS,
    });
  }
}

/**
 * The summary's aggregations. Everything is computed by PostgreSQL; only aggregates
 * (a row per operation, capped lists) come back. Failures are a small share of the
 * rows: queries about them read the partial index EncryptionMetric_failures_idx
 * (status = 'failure'; timestamp, operation, errorReason, keyId, deviceId) alone.
 */
export class MetricsReads {
  constructor(private readonly db: Pick<PrismaService, '$queryRaw'>) {}

  /**
   * Counts, average, continuous percentiles and max of the duration, per operation.
   * percentile_cont would sort every row of the window (about 1 s per million rows,
   * spilling to disk); durations are whole milliseconds, so a histogram of
   * (operation, duration) counts gives exactly the same figures from one hashed pass:
   * the value at 0-based rank r is the smallest duration whose running count
   * exceeds r, interpolated between ranks floor(p(n-1)) and ceil(p(n-1)) as
   * percentile_cont does (a test compares the two).
   */
  operations({ from, to }: MetricWindow): Promise<OperationRow[]> {
    return this.db.$queryRaw<OperationRow[]>`
      WITH histogram AS (
        SELECT "operation", "duration",
               count(*) AS n,
               count(*) FILTER (WHERE "status" = 'success') AS successes
          FROM "EncryptionMetric"
         WHERE "timestamp" BETWEEN ${from} AND ${to}
         GROUP BY "operation", "duration"
      ), ranked AS (
        SELECT *,
               (sum(n) OVER (PARTITION BY "operation" ORDER BY "duration"))::bigint AS upto,
               (sum(n) OVER (PARTITION BY "operation"))::bigint AS total
          FROM histogram
      ), ranks AS (
        SELECT "operation", fraction, fraction * (total - 1) AS position,
               min("duration") FILTER (WHERE upto > floor(fraction * (total - 1))) AS below,
               min("duration") FILTER (WHERE upto > ceil(fraction * (total - 1))) AS above
          FROM ranked CROSS JOIN unnest(ARRAY[0.5, 0.95, 0.99]::float8[]) AS fractions(fraction)
         GROUP BY "operation", fraction, total
      )
      SELECT "operation",
             max(total) AS total,
             sum(successes) AS successes,
             max(total) - sum(successes) AS failures,
             sum(n * "duration")::float8 / max(total) AS avg,
             (SELECT array_agg(below + (position - floor(position)) * (above - below) ORDER BY fraction)
                FROM ranks WHERE ranks."operation" = ranked."operation") AS percentiles,
             max("duration") AS max
        FROM ranked
       GROUP BY "operation"
       ORDER BY "operation" COLLATE "C"`;
  }

  /** Failures in the window by operation and error code (index-only: EncryptionMetric_failures_idx). */
  failures({ from, to }: MetricWindow): Promise<FailureRow[]> {
    return this.db.$queryRaw<FailureRow[]>`
      SELECT "operation", coalesce("errorReason", 'UNKNOWN') AS reason, count(*) AS count
        FROM "EncryptionMetric"
       WHERE "status" = 'failure' AND "timestamp" BETWEEN ${from} AND ${to}
       GROUP BY 1, 2`;
  }

  /**
   * One pass over the window grouped by device (how many were active, the busiest
   * `limit`), and the devices refused a key generation by the rate limit (from the
   * failures index).
   */
  async devices({ from, to }: MetricWindow, limit: number): Promise<DeviceRow> {
    const [row] = await this.db.$queryRaw<DeviceRow[]>`
      WITH per_device AS MATERIALIZED (
        SELECT "deviceId", count(*) AS operations, count(*) FILTER (WHERE "status" = 'failure') AS failures
          FROM "EncryptionMetric"
         WHERE "timestamp" BETWEEN ${from} AND ${to} AND "deviceId" IS NOT NULL
         GROUP BY "deviceId"
      ), refused AS MATERIALIZED (
        SELECT "deviceId", count(*) AS rejections, max("timestamp") AS last_rejected
          FROM "EncryptionMetric"
         WHERE "status" = 'failure' AND "timestamp" BETWEEN ${from} AND ${to}
           AND "operation" = ${KEY_GENERATION} AND "errorReason" = ${ErrorCode.RATE_LIMITED}
           AND "deviceId" IS NOT NULL
         GROUP BY "deviceId"
      )
      SELECT (SELECT count(*) FROM per_device) AS active,
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
    return row;
  }

  /**
   * Keys with at least `minFailures` failures and a failure rate of at least
   * `minRate` in the window (numeric comparison: 3 of 10 passes 0.3), most failures
   * first, with how many keys passed in all. Candidates (enough failures) come from
   * the failures index; only their rows are counted (a hash join on the window).
   * Failures with a reason in `notKeyFailures` (a user's wrong passcode) say nothing
   * about the key and are not counted as its failures.
   */
  problemKeys(
    { from, to }: MetricWindow,
    thresholds: { minFailures: number; minRate: number },
    limit: number,
    notKeyFailures: readonly string[] = [],
  ): Promise<ProblemKeyRow[]> {
    return this.db.$queryRaw<ProblemKeyRow[]>`
      WITH candidates AS (
        SELECT "keyId", count(*) AS failures
          FROM "EncryptionMetric"
         WHERE "status" = 'failure' AND "timestamp" BETWEEN ${from} AND ${to} AND "keyId" IS NOT NULL
           AND "errorReason" <> ALL(${notKeyFailures}::text[])
         GROUP BY "keyId"
        HAVING count(*) >= ${thresholds.minFailures}
      ), rated AS (
        SELECT candidates."keyId", candidates.failures, count(*) AS operations
          FROM candidates
          JOIN "EncryptionMetric" metric
            ON metric."keyId" = candidates."keyId" AND metric."timestamp" BETWEEN ${from} AND ${to}
         GROUP BY candidates."keyId", candidates.failures
      )
      SELECT "keyId", operations, failures, count(*) OVER () AS matching
        FROM rated
       WHERE failures >= ${String(thresholds.minRate)}::numeric * operations
       ORDER BY failures DESC, "keyId" COLLATE "C"
       LIMIT ${limit}`;
  }
}

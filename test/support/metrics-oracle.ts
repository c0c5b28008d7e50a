import { rate, round, toNumber } from '../../src/database';
import { MetricsSummaryService } from '../../src/metrics/metrics-summary.service';
import { PERCENTILE_RELATIVE_ERROR } from '../../src/telemetry';
import type { TestApp } from './test-app';

/**
 * The summary from rollups (closed buckets) plus raw rows (the rest) against today's
 * raw-row answer: the queries below are the summary's SQL before rollups existed, kept
 * as the oracle. Every exact field must be equal; percentiles within the histogram's
 * bound of percentile_cont.
 */
export const HOUR = 60 * 60 * 1000;
const DAY = 24 * HOUR;
const MIN = 60 * 1000;
/** Mid-bucket (10 minutes, hour, day), so that every window starts mid-bucket. */
export const NOW = new Date('2026-06-03T12:23:45.678Z');
export const ALIGNED = new Date('2026-06-03T12:00:00.000Z');
const OPERATIONS = ['encrypt', 'decrypt', 'generate', 'verifyPasscode'];
const REASONS = ['KEY_EXPIRED', 'DECRYPTION_FAILED', null];

export interface Row {
  operation: string;
  status: 'success' | 'failure';
  errorReason: string | null;
  keyId: string | null;
  deviceId: string | null;
  duration: number;
  durationMicros: number | null;
  timestamp: Date;
}

/** Deterministic rows over the 50 hours before NOW and a minute after, with every edge. */
export function seedRows(count: number, seed: number): Row[] {
  let state = seed;
  const random = () => (state = (state * 16807) % 2147483647) / 2147483647;
  const pick = <T>(values: T[]) => values[Math.floor(random() * values.length)];
  const edges = [
    NOW, new Date(NOW.getTime() + 1), new Date(NOW.getTime() - DAY), new Date(NOW.getTime() - DAY - 1),
    ALIGNED, new Date(ALIGNED.getTime() - 1), new Date(ALIGNED.getTime() - 5 * HOUR), new Date(ALIGNED.getTime() - 5 * HOUR - 1),
    new Date('2026-06-03T00:00:00.000Z'), new Date('2026-06-02T23:59:59.999Z'), new Date('2026-06-02T00:00:00.000Z'),
  ];
  return Array.from({ length: count }, (_, i) => {
    const operation = pick(OPERATIONS);
    const failed = random() < 0.25;
    const rateLimited = operation === 'generate' && failed && random() < 0.7;
    const micros = Math.floor(random() ** 3 * 400_000);
    const fine = random() < 0.8;
    return {
      operation,
      status: failed ? 'failure' : 'success',
      errorReason: rateLimited ? 'RATE_LIMITED' : failed ? pick(REASONS) : null,
      keyId: random() < 0.1 ? null : `k${Math.floor(random() ** 2 * 30)}`,
      deviceId: random() < 0.1 ? null : `d${Math.floor(random() ** 2 * 60)}`,
      duration: fine ? Math.round(micros / 1000) : Math.floor(micros / 1000),
      durationMicros: fine ? micros : null,
      timestamp: i < edges.length ? edges[i] : new Date(NOW.getTime() + MIN - Math.floor(random() * 50 * HOUR)),
    } as Row;
  });
}

/** The summary's fields as today's raw-row queries give them over [from, to]. */
export async function oracle(t: TestApp, from: Date, to: Date) {
  const micros = `coalesce("durationMicros", "duration"::bigint * 1000)`;
  const operations = await t.prisma.$queryRawUnsafe<any[]>(`
    SELECT "operation", count(*) AS total, count(*) FILTER (WHERE "status" = 'success') AS successes,
           avg(${micros})::float8 AS avg, max(${micros}) AS max,
           percentile_cont(ARRAY[0.5, 0.95, 0.99]::float8[]) WITHIN GROUP (ORDER BY ${micros}) AS percentiles
      FROM "EncryptionMetric" WHERE "timestamp" BETWEEN $1 AND $2
     GROUP BY "operation" ORDER BY "operation" COLLATE "C"`, from, to);
  const failures = await t.prisma.$queryRawUnsafe<any[]>(`
    SELECT "operation", coalesce("errorReason", 'UNKNOWN') AS reason, count(*) AS count
      FROM "EncryptionMetric" WHERE "status" = 'failure' AND "timestamp" BETWEEN $1 AND $2
     GROUP BY 1, 2`, from, to);
  const devices = await t.prisma.$queryRawUnsafe<any[]>(`
    SELECT "deviceId", count(*) AS operations, count(*) FILTER (WHERE "status" = 'failure') AS failures
      FROM "EncryptionMetric" WHERE "timestamp" BETWEEN $1 AND $2 AND "deviceId" IS NOT NULL
     GROUP BY 1 ORDER BY operations DESC, "deviceId" COLLATE "C"`, from, to);
  const refused = await t.prisma.$queryRawUnsafe<any[]>(`
    SELECT "deviceId", count(*) AS rejections, max("timestamp") AS last
      FROM "EncryptionMetric"
     WHERE "status" = 'failure' AND "timestamp" BETWEEN $1 AND $2 AND "operation" = 'generate'
       AND "errorReason" = 'RATE_LIMITED' AND "deviceId" IS NOT NULL
     GROUP BY 1 ORDER BY rejections DESC, "deviceId" COLLATE "C"`, from, to);
  const keys = await t.prisma.$queryRawUnsafe<any[]>(`
    WITH candidates AS (
      SELECT "keyId", count(*) AS failures FROM "EncryptionMetric"
       WHERE "status" = 'failure' AND "timestamp" BETWEEN $1 AND $2 AND "keyId" IS NOT NULL
       GROUP BY 1 HAVING count(*) >= $3
    ), rated AS (
      SELECT c."keyId", c.failures, count(*) AS operations FROM candidates c
        JOIN "EncryptionMetric" m ON m."keyId" = c."keyId" AND m."timestamp" BETWEEN $1 AND $2
       GROUP BY 1, 2
    )
    SELECT * FROM rated WHERE failures >= $4::numeric * operations ORDER BY failures DESC, "keyId" COLLATE "C"`,
    from, to, t.config.metrics.problemKeyMinFailures, String(t.config.metrics.problemKeyFailureRate));
  const byReason = (rows: any[]) => {
    const counts = new Map<string, number>();
    for (const row of rows) counts.set(row.reason, (counts.get(row.reason) ?? 0) + toNumber(row.count));
    return [...counts].map(([reason, count]) => ({ reason, count }))
      .sort((a, b) => b.count - a.count || (a.reason < b.reason ? -1 : 1));
  };
  const total = operations.reduce((sum, row) => sum + toNumber(row.total), 0);
  const successes = operations.reduce((sum, row) => sum + toNumber(row.successes), 0);
  return {
    totals: { total, successes, failures: total - successes, successRate: rate(successes, total) },
    failuresByReason: byReason(failures),
    operations: operations.map((row) => ({
      operation: row.operation,
      total: toNumber(row.total),
      successes: toNumber(row.successes),
      failures: toNumber(row.total) - toNumber(row.successes),
      successRate: rate(toNumber(row.successes), toNumber(row.total)),
      failuresByReason: byReason(failures.filter((failure) => failure.operation === row.operation)),
      avg: round(row.avg / 1000, 2),
      max: round(toNumber(row.max) / 1000, 3),
      percentiles: (row.percentiles as number[]).map((value) => value / 1000),
    })),
    devices: {
      active: devices.length,
      top: devices.slice(0, 10).map((row) => ({ deviceId: row.deviceId, operations: toNumber(row.operations), failures: toNumber(row.failures) })),
      rateLimitedCount: refused.length,
      rateLimited: refused.slice(0, 10).map((row) => ({
        deviceId: row.deviceId, rejections: toNumber(row.rejections), lastRejectedAt: row.last,
      })),
    },
    problematicKeys: {
      count: keys.length,
      keys: keys.slice(0, 10).map((row) => ({
        keyId: row.keyId, operations: toNumber(row.operations), failures: toNumber(row.failures),
        failureRate: rate(toNumber(row.failures), toNumber(row.operations)),
      })),
    },
  };
}

/** Every exact field equal, percentiles near. */
export async function expectSummaryMatchesRawRows(t: TestApp, hours: number) {
  const now = t.clock.now();
  const summary = await t.app.get(MetricsSummaryService).summarize(hours);
  const expected = await oracle(t, new Date(now.getTime() - hours * HOUR), now);
  expect(summary.totals).toEqual(expected.totals);
  expect(summary.failuresByReason).toEqual(expected.failuresByReason);
  expect(summary.devices).toEqual(expected.devices);
  expect(summary.problematicKeys).toMatchObject(expected.problematicKeys);
  expect(summary.operations.map(({ durationMs, ...exact }) => ({ ...exact, avg: durationMs.avg, max: durationMs.max })))
    .toEqual(expected.operations.map(({ percentiles: _near, ...exact }) => exact));
  summary.operations.forEach((entry, i) => {
    const [p50, p95, p99] = expected.operations[i].percentiles;
    for (const [got, exact] of [[entry.durationMs.p50, p50], [entry.durationMs.p95, p95], [entry.durationMs.p99, p99]]) {
      expect(Math.abs(got - exact)).toBeLessThanOrEqual(exact * PERCENTILE_RELATIVE_ERROR + 0.005);
    }
  });
  return summary;
}


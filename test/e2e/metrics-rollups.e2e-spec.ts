import { rate, round, toNumber } from '../../src/database';
import { MetricsSummaryService } from '../../src/metrics/metrics-summary.service';
import { MetricEventsRepository, MetricRollups, PERCENTILE_RELATIVE_ERROR } from '../../src/telemetry';
import { startTestApp, TestApp } from '../support/test-app';

/**
 * The summary from rollups (closed buckets) plus raw rows (the rest) against today's
 * raw-row answer: the queries below are the summary's SQL before rollups existed, kept
 * as the oracle. Every exact field must be equal; percentiles within the histogram's
 * bound of percentile_cont.
 */
const HOUR = 60 * 60 * 1000;
const DAY = 24 * HOUR;
const MIN = 60 * 1000;
/** Mid-hour, so that every window starts mid-bucket. */
const NOW = new Date('2026-06-03T12:20:00.000Z');
const ALIGNED = new Date('2026-06-03T12:00:00.000Z');
const OPERATIONS = ['encrypt', 'decrypt', 'generate', 'verifyPasscode'];
const REASONS = ['KEY_EXPIRED', 'DECRYPTION_FAILED', null];

interface Row {
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
function seedRows(count: number, seed: number): Row[] {
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
async function oracle(t: TestApp, from: Date, to: Date) {
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
async function expectSummaryMatchesRawRows(t: TestApp, hours: number) {
  const now = t.clock.now();
  const summary = await t.app.get(MetricsSummaryService).summarize(hours);
  const expected = await oracle(t, new Date(now.getTime() - hours * HOUR), now);
  expect(summary.totals).toEqual(expected.totals);
  expect(summary.failuresByReason).toEqual(expected.failuresByReason);
  expect(summary.devices).toEqual(expected.devices);
  expect(summary.problematicKeys).toMatchObject(expected.problematicKeys);
  expect(summary.operations.map(({ durationMs, ...exact }) => ({ ...exact, avg: durationMs.avg, max: durationMs.max })))
    .toEqual(expected.operations.map(({ percentiles, ...exact }) => exact));
  summary.operations.forEach((entry, i) => {
    const [p50, p95, p99] = expected.operations[i].percentiles;
    for (const [got, exact] of [[entry.durationMs.p50, p50], [entry.durationMs.p95, p95], [entry.durationMs.p99, p99]]) {
      expect(Math.abs(got - exact)).toBeLessThanOrEqual(exact * PERCENTILE_RELATIVE_ERROR + 0.005);
    }
  });
  return summary;
}

const HOURS = [1, 2, 5, 24, 49, 720];

describe('metrics rollups: the summary equals the raw-row answer', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ env: { METRICS_PROBLEM_KEY_MIN_FAILURES: '3', METRICS_PROBLEM_KEY_FAILURE_RATE: '0.2' } });
    t.clock.set(NOW);
    await t.prisma.encryptionMetric.createMany({ data: seedRows(4000, 11) });
  });
  afterAll(() => t.close());

  it('from raw rows only, before any rollup', async () => {
    await t.prisma.metricRollupDirty.count().then((marks) => expect(marks).toBeGreaterThan(50));
    for (const hours of HOURS) await expectSummaryMatchesRawRows(t, hours);
  });

  it('from rollups for every closed bucket, raw rows for the partial hour and the open one', async () => {
    const run = await t.app.get(MetricRollups).run();
    expect(run).toMatchObject({ acquired: true });
    expect(run.built).toBeGreaterThan(50);
    // Only the open hour and the open day are still to build.
    expect((await t.prisma.metricRollupDirty.findMany()).map((mark) => [mark.grainSeconds, mark.bucketStart.toISOString()]))
      .toEqual(expect.arrayContaining([[3600, '2026-06-03T12:00:00.000Z'], [86400, '2026-06-03T00:00:00.000Z']]));
    expect(await t.prisma.metricRollupDirty.count()).toBe(2);
    const plan = await t.app.get(MetricEventsRepository).inSnapshot((reads) =>
      reads.plan({ from: new Date(NOW.getTime() - 49 * HOUR), to: NOW }));
    expect(plan.buckets.map((bucket) => bucket.grainSeconds)).toContain(86400);
    expect(plan.raw.map((range) => [range.from.toISOString(), range.to.toISOString()])).toEqual([
      ['2026-06-01T11:20:00.000Z', '2026-06-01T12:00:00.000Z'],
      ['2026-06-03T12:00:00.000Z', '2026-06-03T12:20:00.001Z'],
    ]);
    for (const hours of HOURS) await expectSummaryMatchesRawRows(t, hours);
  });

  it('on the hour too (a window that starts on a bucket edge)', async () => {
    t.clock.set(ALIGNED);
    try {
      for (const hours of HOURS) await expectSummaryMatchesRawRows(t, hours);
    } finally {
      t.clock.set(NOW);
    }
  });

  it('with late rows in closed buckets: raw rows until the step rebuilds them, then rollups again', async () => {
    const late = seedRows(300, 99).map((row) => ({ ...row, timestamp: new Date(row.timestamp.getTime() - 2 * HOUR) }));
    // INSERT ... SELECT (a bulk import), not the recorder: the trigger marks the buckets all the same.
    await t.prisma.$executeRawUnsafe(
      `INSERT INTO "EncryptionMetric" ("id", "operation", "status", "errorReason", "keyId", "deviceId", "duration", "durationMicros", "timestamp")
       SELECT gen_random_uuid()::text, * FROM jsonb_to_recordset($1::jsonb)
         AS r("operation" text, "status" text, "errorReason" text, "keyId" text, "deviceId" text, "duration" int, "durationMicros" int, "timestamp" timestamptz)`,
      JSON.stringify(late),
    );
    expect(await t.prisma.metricRollupDirty.count()).toBeGreaterThan(10);
    for (const hours of HOURS) await expectSummaryMatchesRawRows(t, hours);
    await t.app.get(MetricRollups).run();
    expect(await t.prisma.metricRollupDirty.count()).toBe(2);
    for (const hours of HOURS) await expectSummaryMatchesRawRows(t, hours);
    // Idempotent: a rebuild of everything changes nothing.
    const before = await t.prisma.metricRollup.findMany({ orderBy: [{ grainSeconds: 'asc' }, { bucketStart: 'asc' }, { operation: 'asc' }, { status: 'asc' }, { errorReason: 'asc' }], omit: { id: true } });
    await t.prisma.$executeRawUnsafe(`INSERT INTO "MetricRollupDirty" SELECT DISTINCT "grainSeconds", "bucketStart" FROM "MetricRollup" ON CONFLICT DO NOTHING`);
    await t.app.get(MetricRollups).run();
    const after = await t.prisma.metricRollup.findMany({ orderBy: [{ grainSeconds: 'asc' }, { bucketStart: 'asc' }, { operation: 'asc' }, { status: 'asc' }, { errorReason: 'asc' }], omit: { id: true } });
    expect(after).toEqual(before);
  });

  it('marks the buckets of rows copied in (COPY into the table, and straight into a day partition)', async () => {
    await t.app.get(MetricRollups).run();
    await t.app.get(MetricEventsRepository).ensurePartitions(new Date('2026-05-20T00:00:00Z'), new Date('2026-05-20T00:00:00Z'));
    const copy = (table: string, timestamp: string) => t.prisma.$executeRawUnsafe(
      `COPY "${table}" ("id", "operation", "status", "duration", "timestamp") FROM PROGRAM 'printf "%s\\n" "c-${timestamp},encrypt,success,3,${timestamp}"' WITH (FORMAT csv)`,
    );
    await copy('EncryptionMetric', '2026-06-03T07:30:00.000Z');
    await copy('EncryptionMetric_p20260520', '2026-05-20T05:30:00.000Z');
    const marks = await t.prisma.metricRollupDirty.findMany({ where: { bucketStart: { lt: ALIGNED } } });
    expect(marks.map((mark) => [mark.grainSeconds, mark.bucketStart.toISOString()]).sort()).toEqual([
      [3600, '2026-05-20T05:00:00.000Z'],
      [3600, '2026-06-03T07:00:00.000Z'],
      [86400, '2026-05-20T00:00:00.000Z'],
      [86400, '2026-06-03T00:00:00.000Z'],
    ]);
    for (const hours of HOURS) await expectSummaryMatchesRawRows(t, hours);
    await t.app.get(MetricRollups).run();
    for (const hours of HOURS) await expectSummaryMatchesRawRows(t, hours);
  });
});

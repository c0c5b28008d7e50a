import { MetricsSummaryService } from '../../src/metrics/metrics-summary.service';
import { DEVICE_COUNT_STANDARD_ERROR, MetricEventsRepository, MetricRollups } from '../../src/telemetry';
import { bucketKey } from '../../src/telemetry/window-plan';
import { ALIGNED, expectSummaryMatchesRawRows, HOUR, NOW, seedRows } from '../support/metrics-oracle';
import { startTestApp, TestApp } from '../support/test-app';
import { TestClock } from '../support/test-clock';

/**
 * The summary from rollups (closed buckets) plus raw rows (the rest) against today's
 * raw-row answer (test/support/metrics-oracle.ts), before and after the rollup step,
 * with late rows, bulk inserts and COPY.
 */
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

  it('from rollups for every closed bucket, raw rows for the open 10 minutes (and a partial start)', async () => {
    const run = await t.app.get(MetricRollups).run();
    expect(run).toMatchObject({ acquired: true });
    expect(run.built).toBeGreaterThan(50);
    // Only the open 10 minutes, hour and day are still to build.
    expect((await t.prisma.metricRollupDirty.findMany()).map((mark) => [mark.grainSeconds, mark.bucketStart.toISOString()]).sort())
      .toEqual([[3600, '2026-06-03T12:00:00.000Z'], [600, '2026-06-03T12:20:00.000Z'], [86400, '2026-06-03T00:00:00.000Z']]);
    const plan = await t.app.get(MetricEventsRepository).inSnapshot(([reads]) =>
      reads.plan({ from: new Date(NOW.getTime() - 49 * HOUR), to: NOW }));
    expect(plan.buckets.map((bucket) => bucket.grainSeconds)).toContain(86400);
    // Every bucket it reads has its build number (without one, a bucket is read each time, never kept).
    const hoursOfDays = plan.buckets.filter((bucket) => bucket.grainSeconds === 86400)
      .flatMap((day) => Array.from({ length: 24 }, (_, hour) => ({ grainSeconds: 3600, start: new Date(day.start.getTime() + hour * HOUR) })));
    expect([...plan.buckets, ...hoursOfDays].filter((bucket) => !plan.builds.has(bucketKey(bucket.grainSeconds, bucket.start.getTime())))).toEqual([]);
    expect(plan.raw.map((range) => [range.from.toISOString(), range.to.toISOString()])).toEqual([
      ['2026-06-01T11:23:45.678Z', '2026-06-01T11:30:00.000Z'],
      ['2026-06-03T12:20:00.000Z', '2026-06-03T12:23:45.679Z'],
    ]);
    for (const hours of HOURS) await expectSummaryMatchesRawRows(t, hours);
  });

  it('reads the buckets a process lacks summed, keeps them in the background, then answers from them', async () => {
    // A second process on the same database (its clock at NOW from the start, as its rollup step's): it keeps nothing yet.
    const clock = new TestClock();
    clock.set(NOW);
    const other = await startTestApp({ database: t.database, clock, env: { METRICS_PROBLEM_KEY_MIN_FAILURES: '3', METRICS_PROBLEM_KEY_FAILURE_RATE: '0.2' } });
    try {
      const events = other.app.get(MetricEventsRepository);
      expect(events.keptRollups().entries).toBe(0);
      await expectSummaryMatchesRawRows(other, 720);
      const readEach = events.keptRollups().entries;
      await events.keepingDone();
      const kept = events.keptRollups().entries;
      // 720 h: hours of 3 days for device lists, beyond what one summary reads bucket by bucket.
      expect(kept).toBeGreaterThan(readEach + 48);
      await expectSummaryMatchesRawRows(other, 720);
      expect(events.keptRollups().entries).toBe(kept);
    } finally {
      await other.close();
    }
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
    expect(await t.prisma.metricRollupDirty.count()).toBe(3);
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
      [600, '2026-05-20T05:30:00.000Z'],
      [600, '2026-06-03T07:30:00.000Z'],
      [86400, '2026-05-20T00:00:00.000Z'],
      [86400, '2026-06-03T00:00:00.000Z'],
    ]);
    for (const hours of HOURS) await expectSummaryMatchesRawRows(t, hours);
    await t.app.get(MetricRollups).run();
    for (const hours of HOURS) await expectSummaryMatchesRawRows(t, hours);
  });
});

describe('metrics rollups: devices beyond the per-bucket lists', () => {
  it('estimates active devices within the sketch bound, lists the busy ones and every rate-limited one exactly', async () => {
    const t = await startTestApp();
    try {
      t.clock.set(NOW);
      // 3 hours of 1,500 devices with 2 operations each, 3 busy devices (50 each), 150 rate-limited ones.
      const rows = [];
      for (let hour = 1; hour <= 3; hour += 1) {
        const at = new Date(NOW.getTime() - hour * HOUR);
        for (let d = 0; d < 1500; d += 1) {
          rows.push({ operation: 'decrypt', status: 'success', duration: 1, deviceId: `device-${d}`, timestamp: at });
          rows.push(d < 150 && hour === 2
            ? { operation: 'generate', status: 'failure', errorReason: 'RATE_LIMITED', duration: 1, deviceId: `device-${d}`, timestamp: at }
            : { operation: 'encrypt', status: 'success', duration: 1, deviceId: `device-${d}`, timestamp: at });
        }
        for (const busy of ['busy-a', 'busy-b', 'busy-c']) {
          for (let i = 0; i < 50; i += 1) rows.push({ operation: 'encrypt', status: 'success', duration: 1, deviceId: busy, timestamp: at });
        }
      }
      await t.prisma.encryptionMetric.createMany({ data: rows });
      await t.app.get(MetricRollups).run();
      const summary = await t.app.get(MetricsSummaryService).summarize(5);
      const exact = 1503;
      expect(Math.abs(summary.devices.active - exact)).toBeLessThanOrEqual(exact * 3 * DEVICE_COUNT_STANDARD_ERROR);
      expect(summary.devices.top.slice(0, 3)).toEqual(['busy-a', 'busy-b', 'busy-c'].map((deviceId) => ({ deviceId, operations: 150, failures: 0 })));
      expect(summary.devices.rateLimitedCount).toBe(150);
      expect(summary.devices.rateLimited).toHaveLength(10);
      expect(summary.totals.total).toBe(rows.length);
      // 1,500 more devices in the open 10 minutes (raw rows): counted in the estimate too.
      await t.prisma.encryptionMetric.createMany({
        data: Array.from({ length: 1500 }, (_, d) => ({
          operation: 'encrypt', status: 'success', duration: 1, deviceId: `new-device-${d}`, timestamp: new Date(NOW.getTime() - 60_000),
        })),
      });
      const later = await t.app.get(MetricsSummaryService).summarize(5);
      expect(Math.abs(later.devices.active - 2 * exact)).toBeLessThanOrEqual(2 * exact * 3 * DEVICE_COUNT_STANDARD_ERROR);
    } finally {
      await t.close();
    }
  });
});

describe('metrics rollups: the busiest devices when buckets list only their busiest', () => {
  const rows = (deviceId: string, count: number, timestamp: Date) =>
    Array.from({ length: count }, () => ({ operation: 'encrypt', status: 'success', duration: 1, deviceId, timestamp }));

  /**
   * `hours` closed hours, each of 150 devices: it lists its 100 busiest (100 "mid" devices
   * of its own, 5 operations each, and fillers of 1). The open 10 minutes (raw rows): 12
   * devices busier there than `lifted` (4 against 3), which makes it the busiest of the
   * window (8), though it is none of the raw rows' busiest.
   */
  async function expectLifted(hours: number, lifted: string) {
    const t = await startTestApp();
    try {
      t.clock.set(NOW);
      const mids = Array.from({ length: hours }, (_, hour) =>
        Array.from({ length: 100 }, (_, i) => `mid-${hour}-${String(i).padStart(2, '0')}`));
      const open = new Date(NOW.getTime() - 60_000);
      await t.prisma.encryptionMetric.createMany({
        data: [
          ...mids.flatMap((ofHour, hour) => {
            const closed = new Date(NOW.getTime() - (hour + 2) * HOUR);
            return [...ofHour.flatMap((mid) => rows(mid, 5, closed)), ...Array.from({ length: 50 }, (_, i) => rows(`filler-${hour}-${i}`, 1, closed)).flat()];
          }),
          ...Array.from({ length: 12 }, (_, i) => rows(`raw-${i}`, 4, open)).flat(),
          ...rows(lifted, 3, open),
        ],
      });
      await t.app.get(MetricRollups).run();
      const summary = await t.app.get(MetricsSummaryService).summarize(5);
      expect(summary.devices.top).toEqual([
        { deviceId: lifted, operations: 8, failures: 0 },
        ...mids.flat().filter((mid) => mid !== lifted).slice(0, 9).map((deviceId) => ({ deviceId, operations: 5, failures: 0 })),
      ]);
      expect(summary.totals.total).toBe(hours * (100 * 5 + 50) + 12 * 4 + 3);
    } finally {
      await t.close();
    }
  }

  it('adds the raw operations of a listed device that is not among the busiest raw devices', () => expectLifted(1, 'mid-0-07'));

  it('also for a listed device beyond the 100 busiest listed (read in a second query)', () => expectLifted(2, 'mid-1-99'));
});

/**
 * What a process keeps of a window's buckets as a whole (their failing keys summed, the
 * problem-key candidates' operations in them), over the last hour: every 10 minutes of it
 * has rows, so each is built and kept. Two summaries, the rows `between` added between them.
 */
describe('metrics rollups: what a process keeps of a window as a whole', () => {
  const minutesAgo = (minutes: number) => new Date(NOW.getTime() - minutes * 60_000);
  const rows = (keyId: string, status: 'success' | 'failure', count: number, minutes: number) => Array.from({ length: count }, () => ({
    operation: 'decrypt', status, errorReason: status === 'failure' ? 'DECRYPTION_FAILED' : null, duration: 1, keyId, timestamp: minutesAgo(minutes),
  }));

  async function twoSummaries(first: ReturnType<typeof rows>, between: (t: TestApp) => Promise<unknown>) {
    const t = await startTestApp({ env: { METRICS_PROBLEM_KEY_MIN_FAILURES: '3', METRICS_PROBLEM_KEY_FAILURE_RATE: '0.2' } });
    try {
      t.clock.set(NOW);
      const everyTenMinutes = Array.from({ length: 6 }, (_, i) => rows('key-busy', 'success', 1, 5 + i * 10)).flat();
      await t.prisma.encryptionMetric.createMany({ data: [...everyTenMinutes, ...first] });
      await t.app.get(MetricRollups).run();
      await expectSummaryMatchesRawRows(t, 1);
      await between(t);
      await expectSummaryMatchesRawRows(t, 1);
      return (await t.app.get(MetricsSummaryService).summarize(1)).problematicKeys.keys;
    } finally {
      await t.close();
    }
  }

  it('a bucket rebuilt under it: its late failures count (the failing keys are summed again)', async () => {
    // Late rows in the same closed 10 minutes: the step rebuilds it; the window's buckets are the same ones.
    const keys = await twoSummaries(rows('key-late', 'failure', 3, 45), async (t) => {
      await t.prisma.encryptionMetric.createMany({ data: rows('key-late', 'failure', 2, 45) });
      await t.app.get(MetricRollups).run();
    });
    expect(keys).toEqual([{ keyId: 'key-late', operations: 5, failures: 5, failureRate: 1 }]);
  });

  it("candidates it kept: their new raw operations count; new candidates come from the raw rows", async () => {
    // The open 10 minutes: key-a succeeds 20 times (3 of 25: below the rate), key-b fails 3 times.
    const keys = await twoSummaries([...rows('key-a', 'failure', 3, 45), ...rows('key-a', 'success', 2, 45)], (t) =>
      t.prisma.encryptionMetric.createMany({ data: [...rows('key-a', 'success', 20, 1), ...rows('key-b', 'failure', 3, 1)] }));
    expect(keys).toEqual([{ keyId: 'key-b', operations: 3, failures: 3, failureRate: 1 }]);
  });
});

describe('metrics rollups: problem keys at the thresholds', () => {
  it('keeps a key at exactly the rate where it failed, or across the window, and drops one below it', async () => {
    const t = await startTestApp({ env: { METRICS_PROBLEM_KEY_MIN_FAILURES: '3', METRICS_PROBLEM_KEY_FAILURE_RATE: '0.2' } });
    try {
      t.clock.set(NOW);
      const at = (hours: number) => new Date(NOW.getTime() - hours * HOUR);
      const ops = (keyId: string, hours: number, status: 'success' | 'failure', count: number) =>
        Array.from({ length: count }, () => ({
          operation: 'decrypt', status, errorReason: status === 'failure' ? 'DECRYPTION_FAILED' : null, duration: 1, keyId, timestamp: at(hours),
        }));
      await t.prisma.encryptionMetric.createMany({
        data: [
          // 3 of 15 where it failed, nothing else: exactly the rate.
          ...ops('key-edge', 3, 'failure', 3), ...ops('key-edge', 3, 'success', 12),
          // 3 of 10 where it failed, 3 of 15 in the window: exactly the rate.
          ...ops('key-kept', 3, 'failure', 3), ...ops('key-kept', 3, 'success', 7), ...ops('key-kept', 5, 'success', 5),
          // 3 of 3 where it failed, 3 of 23 in the window: below.
          ...ops('key-below', 3, 'failure', 3), ...ops('key-below', 5, 'success', 20),
          // 3 of 16 where it failed: below before its other buckets are read.
          ...ops('key-pruned', 3, 'failure', 3), ...ops('key-pruned', 3, 'success', 13),
        ],
      });
      await t.app.get(MetricRollups).run();
      const { problematicKeys } = await t.app.get(MetricsSummaryService).summarize(24);
      expect(problematicKeys.keys.map((key) => [key.keyId, key.failures, key.operations])).toEqual([
        ['key-edge', 3, 15],
        ['key-kept', 3, 15],
      ]);
      expect(problematicKeys.count).toBe(2);
      await expectSummaryMatchesRawRows(t, 24);
      // The candidates' operations the same whether looked up key by key or read from every key row.
      const thresholds = { minFailures: 3, minRate: 0.2 };
      const [probed, scanned] = await t.app.get(MetricEventsRepository).inSnapshot(async ([reads]) => {
        const plan = await reads.plan({ from: new Date(NOW.getTime() - 24 * HOUR), to: NOW });
        return [await reads.problemKeys(plan, thresholds, 10, Number.MAX_SAFE_INTEGER), await reads.problemKeys(plan, thresholds, 10, 0)];
      });
      expect(probed.keys.map((key) => key.keyId)).toEqual(['key-edge', 'key-kept']);
      expect(scanned).toEqual(probed);
    } finally {
      await t.close();
    }
  });
});

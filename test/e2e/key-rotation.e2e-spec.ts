import { Client } from 'pg';
import { KeyMaintenance } from '../../src/keys';
import { MetricEventsRepository, MetricRollups, MetricsRecorder } from '../../src/telemetry';
import { encryptWithWebCrypto } from '../support/clients';
import { RUN_KEY_ROTATION, runJob, seed } from '../support/key-rotation';
import { decrypt, encrypt, ENCRYPTION_KEY, errorCode, generateKey, newDeviceId } from '../support/operations';
import { startTestApp, TestApp } from '../support/test-app';
import { createTestDatabase } from '../support/test-database';

const MINUTE_MS = 60 * 1000;
const HOUR_MS = 60 * MINUTE_MS;
const DAY_MS = 24 * HOUR_MS;
const NO_COUNTS = {
  deprecatedKeys: 0,
  deletedKeys: 0,
  deletedMetrics: 0,
  purgedConsumedCiphertexts: 0,
  purgedKeyGenerations: 0,
  purgedCallerKeyGenerations: 0,
  purgedPlaceholderCredentials: 0,
};
/** Generating a key also leaves a rate-limit ledger row, which the job purges a day later. */
const NO_KEY_CHANGES = { deprecatedKeys: 0, deletedKeys: 0 };

describe('daily job: a key from ACTIVE to deleted, on a moving clock', () => {
  let t: TestApp;
  beforeEach(async () => {
    t = await startTestApp();
  });
  afterEach(() => t.close());

  const row = (id: string) => t.prisma.clientEncryptionKey.findUnique({ where: { id } });
  const encryptWith = (app: TestApp, keyId: string) => encrypt(app, { keyId, data: 'x' });
  const statusOf = async (app: TestApp, keyId: string) =>
    (await app.gql(ENCRYPTION_KEY, { keyId })).data!.encryptionKey?.status ?? null;

  it('ACTIVE today; at day 31 decrypts, does not encrypt, and is marked; at day 31 + 90 it is gone', async () => {
    const key = await generateKey(t, newDeviceId());
    const ciphertext = await encryptWithWebCrypto(key.publicKey, 'kept secret');
    const decrypted = async () => {
      const response = await decrypt(t, { keyId: key.keyId, encryptedData: ciphertext }, t.as('service'));
      return response.data?.decryptData.data ?? errorCode(response);
    };
    expect(await statusOf(t, key.keyId)).toBe('ACTIVE');
    expect(await runJob(t)).toMatchObject({ skipped: false, ...NO_COUNTS });

    t.clock.advanceDays(31);
    expect(errorCode(await encryptWith(t, key.keyId))).toBe('KEY_EXPIRED');
    const report = await t.gql(RUN_KEY_ROTATION, {}, t.as('admin'));
    expect(report.errors).toBeUndefined();
    expect(report.data!.runKeyRotation).toMatchObject({ skipped: false, interrupted: false, deprecatedKeys: 1, deletedKeys: 0 });
    expect(report.data!.runKeyRotation.ranAt).toBe(t.clock.now().toISOString());
    expect(report.data!.runKeyRotation.durationMs).toEqual(expect.any(Number));
    const marked = await row(key.keyId);
    expect(marked).toMatchObject({ deprecated: true, deprecatedAt: marked!.expiresAt, updatedAt: t.clock.now() });
    expect(await decrypted()).toBe('kept secret');
    expect(errorCode(await encryptWith(t, key.keyId))).toBe('KEY_EXPIRED');
    expect(await statusOf(t, key.keyId)).toBe('DEPRECATED');
    expect(await runJob(t)).toMatchObject(NO_KEY_CHANGES); // idempotent

    t.clock.advanceDays(88); // day 119: still within retention of its expiry (day 30)
    expect(await runJob(t)).toMatchObject({ deletedKeys: 0 });
    expect(await decrypted()).toBe('kept secret');

    t.clock.advanceDays(2); // day 121 = 31 + 90
    expect(await runJob(t)).toMatchObject({ deletedKeys: 1 });
    expect(await row(key.keyId)).toBeNull();
    expect(await decrypted()).toBe('KEY_NOT_FOUND');
    expect(await statusOf(t, key.keyId)).toBeNull();
  });

  it('never touches an unexpired key', async () => {
    const key = await generateKey(t, newDeviceId());
    const before = await row(key.keyId);
    expect(await runJob(t)).toMatchObject(NO_COUNTS);
    t.clock.advanceMs(30 * DAY_MS - 1);
    expect(await runJob(t)).toMatchObject(NO_KEY_CHANGES);
    expect(await row(key.keyId)).toEqual(before);
    expect((await encryptWith(t, key.keyId)).errors).toBeUndefined();
  });

  it('follows KEY_EXPIRY_DAYS and KEY_RETENTION_DAYS', async () => {
    const custom = await startTestApp({ env: { KEY_EXPIRY_DAYS: '2', KEY_RETENTION_DAYS: '3' } });
    try {
      const key = await generateKey(custom, newDeviceId());
      custom.clock.advanceMs(2 * DAY_MS - 1);
      expect(await runJob(custom)).toMatchObject(NO_KEY_CHANGES);
      expect(await statusOf(custom, key.keyId)).toBe('ACTIVE');
      custom.clock.advanceMs(1); // day 2: expired
      expect(await runJob(custom)).toMatchObject({ deprecatedKeys: 1, deletedKeys: 0 });
      custom.clock.advanceMs(3 * DAY_MS - 1);
      expect(await runJob(custom)).toMatchObject({ deletedKeys: 0 });
      expect(await statusOf(custom, key.keyId)).toBe('DEPRECATED');
      custom.clock.advanceMs(1); // day 2 + 3
      expect(await runJob(custom)).toMatchObject({ deletedKeys: 1 });
      expect(await custom.prisma.clientEncryptionKey.count()).toBe(0);
    } finally {
      await custom.close();
    }
  });
});

describe('daily job: metrics and single-use records, to the millisecond', () => {
  it('deletes metrics older than METRICS_RETENTION_DAYS, spent replay records and ledger rows out of their windows', async () => {
    const t = await startTestApp({ env: { METRICS_RETENTION_DAYS: '2', KEY_GEN_WINDOW_HOURS: '3' } });
    try {
      const now = t.clock.now().getTime();
      const around = (moment: number) => [moment - 1, moment, moment + 1].map((ms) => new Date(ms));
      await t.prisma.encryptionMetric.createMany({
        data: around(now - 2 * DAY_MS).map((timestamp) => ({ operation: 'decrypt', status: 'success', duration: 1, timestamp })),
      });
      await t.prisma.consumedCiphertext.createMany({
        data: around(now).map((expiresAt, i) => ({ hash: `h${i}`, keyId: 'k', consumedAt: new Date(now - DAY_MS), expiresAt })),
      });
      await t.prisma.keyGeneration.createMany({
        data: around(now - 3 * HOUR_MS).map((createdAt) => ({ deviceId: 'd', createdAt })),
      });
      await t.prisma.callerKeyGeneration.createMany({
        data: around(now - MINUTE_MS).map((createdAt) => ({ caller: 'address:127.0.0.1', createdAt })),
      });

      expect(await runJob(t)).toMatchObject({
        ...NO_COUNTS,
        deletedMetrics: 1,
        purgedConsumedCiphertexts: 2,
        purgedKeyGenerations: 2,
        purgedCallerKeyGenerations: 2,
      });
      const times = (rows: any[], field: string) => rows.map((r) => r[field].getTime() - now);
      const notTheJob = { where: { operation: { not: 'dailyJob' } } };
      expect(times(await t.prisma.encryptionMetric.findMany(notTheJob), 'timestamp').sort((a, b) => a - b)).toEqual([-2 * DAY_MS, -2 * DAY_MS + 1]);
      expect(times(await t.prisma.consumedCiphertext.findMany(), 'expiresAt')).toEqual([1]);
      // The rate limit counts createdAt > window start: what is purged no longer counted.
      expect(times(await t.prisma.keyGeneration.findMany(), 'createdAt')).toEqual([-3 * HOUR_MS + 1]);
      // The per-caller budget's window is one minute, whatever KEY_GEN_WINDOW_HOURS.
      expect(times(await t.prisma.callerKeyGeneration.findMany(), 'createdAt')).toEqual([-MINUTE_MS + 1]);
    } finally {
      await t.close();
    }
  });
});

describe('daily job: unknown users and its own measurement', () => {
  it('purges placeholder credential rows quiet for AUTH_LOCKOUT_MINUTES, and records its run as dailyJob', async () => {
    const t = await startTestApp({ env: { AUTH_LOCKOUT_MINUTES: '15' } });
    try {
      const now = t.clock.now().getTime();
      const minutesAgo = (minutes: number) => new Date(now - minutes * 60_000);
      await t.prisma.userCredential.createMany({
        data: [
          { userId: 'quiet', passcodeFailedAttempts: 3, updatedAt: minutesAgo(15) },
          { userId: 'just-tried', passcodeFailedAttempts: 1, updatedAt: new Date(now - 15 * 60_000 + 1) },
          { userId: 'still-locked', pinFailedAttempts: 5, pinLockedUntil: new Date(now + 1), updatedAt: minutesAgo(60) },
          { userId: 'real-user', passcodeHash: 'stored', updatedAt: minutesAgo(60 * 24 * 30) },
        ].map((row) => ({ createdAt: minutesAgo(60 * 24 * 31), ...row })),
      });
      expect(await runJob(t)).toMatchObject({ ...NO_COUNTS, purgedPlaceholderCredentials: 1 });
      const left = await t.prisma.userCredential.findMany({ orderBy: { userId: 'asc' } });
      expect(left.map((row) => row.userId)).toEqual(['just-tried', 'real-user', 'still-locked']);

      await t.app.get(MetricsRecorder).flush();
      const runs = await t.prisma.encryptionMetric.findMany({ where: { operation: 'dailyJob' } });
      expect(runs).toEqual([expect.objectContaining({ status: 'success', duration: expect.any(Number) })]);
      const scrape = await (await fetch(`${t.baseUrl}/metrics`, { headers: t.as('ops') })).text();
      expect(scrape).toContain('kms_daily_job_rows_total{step="purgedPlaceholderCredentials"} 1');
      expect(scrape).toMatch(/kms_daily_job_last_completed_seconds \d+/);
      expect(scrape).toContain('kms_operations_total{operation="dailyJob",outcome="success"} 1');
    } finally {
      await t.close();
    }
  });

  it('records a failed run as a dailyJob failure', async () => {
    const t = await startTestApp();
    try {
      const maintenance = t.app.get(KeyMaintenance);
      maintenance.deprecateExpiredKeys = () => Promise.reject(new Error('disk on fire'));
      await expect(runJob(t)).rejects.toThrow('disk on fire');
      await t.app.get(MetricsRecorder).flush();
      const runs = await t.prisma.encryptionMetric.findMany({ where: { operation: 'dailyJob' } });
      expect(runs).toEqual([expect.objectContaining({ status: 'failure', errorReason: 'INTERNAL' })]);
    } finally {
      await t.close();
    }
  });
});

describe('daily job: metric partitions and rollups', () => {
  it('drops the day partitions past METRICS_RETENTION_DAYS whole, makes the next days, keeps rollups for METRICS_ROLLUP_RETENTION_DAYS', async () => {
    // Rows of the last 12 days, rolled up while they were young enough (retention 30 days) ...
    const database = await createTestDatabase();
    const before = await startTestApp({ database });
    const now = before.clock.now().getTime();
    const dayOf = (ms: number) => new Date(Math.floor(ms / DAY_MS) * DAY_MS);
    try {
      await before.app.get(MetricEventsRepository).ensurePartitions(dayOf(now - 12 * DAY_MS), dayOf(now - DAY_MS));
      await before.prisma.encryptionMetric.createMany({
        data: Array.from({ length: 12 }, (_, i) => ({
          operation: 'encrypt', status: 'success', duration: 1, timestamp: new Date(dayOf(now - (i + 1) * DAY_MS).getTime() + 12 * HOUR_MS),
        })),
      });
      await before.app.get(MetricRollups).run();
    } finally {
      await before.close();
    }
    // ... then the job with raw retention 5 days and rollup retention 9.
    const t = await startTestApp({ database, env: { METRICS_RETENTION_DAYS: '5', METRICS_ROLLUP_RETENTION_DAYS: '9' } });
    try {
      t.clock.set(new Date(now));
      const events = t.app.get(MetricEventsRepository);
      const rollupDays = () => t.prisma.metricRollup.count({ where: { grainSeconds: 86400 } });
      expect(await rollupDays()).toBe(12);

      const report = await runJob(t);
      // Days wholly older than now - 5 days: 5 days ago and before, except the day holding the cutoff.
      expect(report).toMatchObject({ ...NO_COUNTS, droppedMetricPartitions: 7, deletedMetrics: 0 });
      const days = await events.partitionDays();
      expect(days[0]).toEqual(dayOf(now - 5 * DAY_MS));
      // Today and the next 7 days exist (made at start-up, so the job made none).
      expect(days.slice(-8)).toEqual(Array.from({ length: 8 }, (_, i) => dayOf(now + i * DAY_MS)));
      expect(report.createdMetricPartitions).toBe(0);
      const encrypts = { where: { operation: 'encrypt' } }; // not the job's own dailyJob row
      expect(await t.prisma.encryptionMetric.count(encrypts)).toBe(5);
      // Rollups outlive the raw rows: those of days 10 to 12 ago went, 1 to 9 stay.
      expect(report.deletedMetricRollups).toBeGreaterThan(0);
      expect(await rollupDays()).toBe(9);
      // The summary still counts the dropped days from their rollups.
      const summary = await t.gql('query { getEncryptionMetricsSummary(timeframeHours: 720) }', undefined, t.as('ops'));
      const encryptTotal = summary.data!.getEncryptionMetricsSummary.operations.find(
        (entry: { operation: string }) => entry.operation === 'encrypt',
      ).total;
      expect(encryptTotal).toBe(9);
    } finally {
      await t.close();
      await database.drop();
    }
  });
});

describe('daily job: batches', () => {
  let t: TestApp;
  beforeEach(async () => {
    t = await startTestApp({ env: { KEY_ROTATION_BATCH_SIZE: '10' } });
  });
  afterEach(() => t.close());

  it('changes at most KEY_ROTATION_BATCH_SIZE rows per statement and goes on until a batch is short', async () => {
    await seed(t, { now: t.clock.now(), expiredKeys: 35, oldMetrics: 45, recentMetrics: 5 });
    const deprecate = jest.spyOn(t.app.get(KeyMaintenance), 'deprecateExpiredKeys');
    const deleteMetrics = jest.spyOn(t.app.get(MetricEventsRepository), 'deleteBefore');

    // 35 expired keys, 5 of them already deprecated by a rotation.
    expect(await runJob(t)).toMatchObject({ deprecatedKeys: 30, deletedMetrics: 45 });
    expect(deprecate.mock.calls.map(([, , limit]) => limit)).toEqual([10, 10, 10, 10]);
    expect(deleteMetrics).toHaveBeenCalledTimes(5);
    expect(await t.prisma.encryptionMetric.count({ where: { operation: { not: 'dailyJob' } } })).toBe(5);
    expect(await t.prisma.clientEncryptionKey.count({ where: { deprecated: false } })).toBe(0);
  });

  it('leaves a row a request holds locked for the next run, and still finishes the rest', async () => {
    await seed(t, { now: t.clock.now(), expiredKeys: 35 });
    const client = new Client({ connectionString: t.database.url });
    await client.connect();
    try {
      await client.query('BEGIN');
      // seed-k-3 expired about 180 days ago: past retention too.
      await client.query(`SELECT 1 FROM "ClientEncryptionKey" WHERE "id" = 'seed-k-3' FOR UPDATE`);
      const first = await runJob(t);
      expect(first.deprecatedKeys).toBe(29);
      expect(await t.prisma.clientEncryptionKey.findUnique({ where: { id: 'seed-k-3' } })).toMatchObject({ deprecated: false });
      await client.query('COMMIT');

      expect(await runJob(t)).toMatchObject({ deprecatedKeys: 1, deletedKeys: 1 });
      expect(await t.prisma.clientEncryptionKey.findUnique({ where: { id: 'seed-k-3' } })).toBeNull();
    } finally {
      await client.end();
    }
  });

  it('logs each run with its counts and duration', async () => {
    await seed(t, { now: t.clock.now(), expiredKeys: 3 });
    const mark = t.logs.mark();
    const report = await runJob(t);
    const finished = t.logs.since(mark).filter((line) => line.msg === 'key rotation finished');
    expect(finished).toEqual([expect.objectContaining({ trigger: 'operator', ...report })]);
    expect(report.deprecatedKeys).toBe(3);
  });

  it('answers a failed run with INTERNAL, revealing nothing, and logs only the error name', async () => {
    await seed(t, { now: t.clock.now(), expiredKeys: 3 });
    const failure = Object.assign(new Error('syntax error near "SELECT secret FROM vault"'), { name: 'DriverAdapterError' });
    jest.spyOn(t.app.get(KeyMaintenance), 'deleteKeysPastRetention').mockRejectedValueOnce(failure);
    const mark = t.logs.mark();

    const response = await t.gql(RUN_KEY_ROTATION, {}, t.as('admin'));
    expect(errorCode(response)).toBe('INTERNAL');
    expect(JSON.stringify(response)).not.toMatch(/SELECT|secret|vault/);
    const failed = t.logs.since(mark).filter((line) => line.msg === 'key rotation failed; the next run finishes the work');
    expect(failed).toEqual([expect.objectContaining({ errorName: 'DriverAdapterError', deprecatedKeys: 3, interrupted: true })]);
    expect(JSON.stringify(t.logs.since(mark))).not.toMatch(/SELECT|secret|vault/);
    expect(await runJob(t)).toMatchObject({ skipped: false, interrupted: false, deprecatedKeys: 0 });
  });
});

import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { Client } from 'pg';
import { KEY_ROTATION_LOCK, KeyRotationService } from '../../src/key-rotation';
import { KeyMaintenance } from '../../src/keys';
import { MetricEventsRepository } from '../../src/telemetry';
import {
  aroundBatches,
  BATCH_STATEMENTS,
  RUN_KEY_ROTATION,
  runJob,
  seed,
  snapshot,
  waitFor,
} from '../support/key-rotation';
import type { LifecycleRows } from '../support/lifecycle-rows';
import { startTestApp, testEnvironment, TestApp } from '../support/test-app';
import { TestClock } from '../support/test-clock';
import { createTestDatabase, TestDatabase } from '../support/test-database';

const NOW = new Date('2026-06-01T03:00:00.000Z');
/** Several batches of 10 in every step. */
const ROWS: LifecycleRows = {
  now: NOW,
  expiredKeys: 60,
  activeKeys: 10,
  oldMetrics: 60,
  recentMetrics: 10,
  consumedCiphertexts: 60,
  keyGenerations: 60,
  credentials: 100,
  callerGenerations: 60,
};
const ENV = { KEY_ROTATION_BATCH_SIZE: '10' };

const clockAt = (moment: Date) => {
  const clock = new TestClock();
  clock.set(moment);
  return clock;
};

async function seededApp(database?: TestDatabase): Promise<TestApp> {
  const t = await startTestApp({ env: ENV, clock: clockAt(NOW), database });
  await seed(t, ROWS);
  return t;
}

/** Whether any session holds the job's advisory lock on this database. */
async function lockHeld(t: TestApp): Promise<boolean> {
  const [{ held }] = await t.prisma.$queryRaw<{ held: boolean }[]>`
    SELECT EXISTS (
      SELECT 1 FROM pg_locks l JOIN pg_database d ON d.oid = l.database
      WHERE l.locktype = 'advisory' AND d.datname = current_database() AND l.granted
        AND (l.classid::bigint << 32 | l.objid::bigint) = hashtextextended(${KEY_ROTATION_LOCK}, 0)
    ) AS held`;
  return held;
}

describe('exactly one runner', () => {
  it('two instances on one database, started at the same moment: one runs, the other skips and says so', async () => {
    const database = await createTestDatabase();
    const [a, b] = await Promise.all([startTestApp({ database }), startTestApp({ database })]);
    try {
      await seed(a, { ...ROWS, now: a.clock.now() });
      // Whoever gets the lock waits in its first batch until the other has answered.
      let open!: () => void;
      const gate = new Promise<void>((resolve) => (open = resolve));
      const marks = [a, b].map((app) => {
        const keys = app.app.get(KeyMaintenance);
        const original = keys.deprecateExpiredKeys.bind(keys);
        jest.spyOn(keys, 'deprecateExpiredKeys').mockImplementation(async (...args) => {
          await gate;
          return original(...args);
        });
        return app.logs.mark();
      });

      const runs = [a, b].map((app) => app.gql(RUN_KEY_ROTATION, {}, app.as('admin')));
      const bothRunning = new Promise<'both hold the lock'>((resolve) => setTimeout(resolve, 20_000, 'both hold the lock'));
      const first = await Promise.race([...runs, bothRunning]);
      expect(first).not.toBe('both hold the lock');
      open();
      const reports = (await Promise.all(runs)).map((response) => response.data!.runKeyRotation);

      const skipped = reports.filter((report) => report.skipped);
      const ran = reports.filter((report) => !report.skipped);
      expect(skipped).toHaveLength(1);
      expect(ran).toHaveLength(1);
      expect(skipped[0]).toMatchObject({ deprecatedKeys: 0, deletedKeys: 0, deletedMetrics: 0 });
      expect(ran[0]).toMatchObject({ interrupted: false, deprecatedKeys: 52, deletedMetrics: 60 });
      // Both apps live in this process, so their lines outside requests share one file: read both.
      const said = (msg: string) =>
        [a, b].flatMap((app, i) => app.logs.since(marks[i])).filter((line) => line.msg === msg);
      expect(said('key rotation skipped: another instance holds the lock')).toEqual([
        expect.objectContaining({ trigger: 'operator' }),
      ]);
      expect(said('key rotation finished')).toEqual([expect.objectContaining({ trigger: 'operator', ...ran[0] })]);

      // The lock went with the run: the next run anywhere proceeds (and finds nothing left).
      expect(await lockHeld(a)).toBe(false);
      expect(await runJob(b)).toMatchObject({ skipped: false, deprecatedKeys: 0, deletedMetrics: 0 });
    } finally {
      await Promise.all([a.close(), b.close()]);
      await database.drop();
    }
  });

  it('skips, changing nothing, while another session holds the lock; runs once it is released', async () => {
    const t = await seededApp();
    const other = new Client({ connectionString: t.database.url });
    await other.connect();
    try {
      const before = await snapshot(t);
      await other.query('SELECT pg_advisory_lock(hashtextextended($1, 0))', [KEY_ROTATION_LOCK]);
      expect(await runJob(t)).toMatchObject({ skipped: true, interrupted: false, deprecatedKeys: 0, deletedKeys: 0 });
      expect(await snapshot(t)).toEqual(before);

      await other.query('SELECT pg_advisory_unlock(hashtextextended($1, 0))', [KEY_ROTATION_LOCK]);
      expect(await runJob(t)).toMatchObject({ skipped: false, deprecatedKeys: 52 });
    } finally {
      await other.end();
      await t.close();
    }
  });
});

describe('interrupted runs', () => {
  let expected: Awaited<ReturnType<typeof snapshot>>;
  beforeAll(async () => {
    const clean = await seededApp();
    try {
      expect(await runJob(clean)).toMatchObject({ skipped: false, interrupted: false });
      expected = await snapshot(clean);
    } finally {
      await clean.close();
    }
  });

  it.each(BATCH_STATEMENTS)('a crash after two batches of %s: the rerun ends where one clean run ends', async (step) => {
    const t = await seededApp();
    try {
      let batches = 0;
      aroundBatches(t.app, async (statement, proceed) => {
        if (statement === step && (batches += 1) === 3) throw new Error('process died');
        return proceed();
      });
      await expect(runJob(t)).rejects.toThrow('process died');
      expect(await snapshot(t)).not.toEqual(expected);
      expect(await lockHeld(t)).toBe(false);

      expect(await runJob(t)).toMatchObject({ skipped: false, interrupted: false });
      expect(await snapshot(t)).toEqual(expected);
    } finally {
      await t.close();
    }
  });

  it('a process killed between batches frees the lock; the rerun ends where one clean run ends', async () => {
    const database = await createTestDatabase();
    const t = await seededApp(database);
    try {
      const child = spawn(process.execPath, ['-r', '@swc-node/register', join(__dirname, '../support/rotation-child.ts')], {
        env: {
          ...process.env,
          ...testEnvironment({ ...ENV, DATABASE_URL: database.url }),
          KMS_CHILD_NOW: NOW.toISOString(),
          KMS_CHILD_PAUSE_AFTER: '8',
        },
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      });
      const exited = new Promise<NodeJS.Signals | null>((resolve) => child.once('exit', (_, signal) => resolve(signal)));
      const message = await new Promise((resolve) => {
        child.once('message', resolve);
        void exited.then(() => resolve('exited'));
      });
      expect(message).toBe('paused');

      // Mid-run, the child holds the lock: this instance skips.
      expect(await runJob(t)).toMatchObject({ skipped: true });
      const partial = await snapshot(t);
      expect(partial.keys.filter((key: any) => key.deprecated).length).toBeGreaterThan(8);
      expect(partial.metrics).toHaveLength(70);

      child.kill('SIGKILL');
      expect(await exited).toBe('SIGKILL');
      await waitFor(async () => !(await lockHeld(t)), 'the killed session to release its lock');
      expect(await runJob(t)).toMatchObject({ skipped: false, interrupted: false });
      expect(await snapshot(t)).toEqual(expected);
    } finally {
      await t.close();
      await database.drop();
    }
  });

  it('shutdown stops a run between batches; the next run finishes the work', async () => {
    const database = await createTestDatabase();
    const t = await seededApp(database);
    try {
      const service = t.app.get(KeyRotationService);
      const metricEvents = t.app.get(MetricEventsRepository);
      const original = metricEvents.deleteBefore.bind(metricEvents);
      const stopAsked = new Promise<void>((resolve) => {
        const hook = service.beforeApplicationShutdown.bind(service);
        jest.spyOn(service, 'beforeApplicationShutdown').mockImplementation(() => (resolve(), hook()));
      });
      let closing: Promise<void> | undefined;
      jest.spyOn(metricEvents, 'deleteBefore').mockImplementation(async (...args) => {
        if (!closing) {
          closing = t.app.close();
          await stopAsked;
        }
        return original(...args);
      });

      const report = await service.run();
      await closing;
      expect(report).toMatchObject({ skipped: false, interrupted: true, deletedMetrics: 10, purgedKeyGenerations: 0 });

      const next = await startTestApp({ env: ENV, clock: clockAt(NOW), database });
      try {
        expect(await runJob(next)).toMatchObject({ interrupted: false, deletedMetrics: 50, purgedKeyGenerations: 30 });
        expect(await snapshot(next)).toEqual(expected);
      } finally {
        await next.close();
      }
    } finally {
      await database.drop();
    }
  });
});

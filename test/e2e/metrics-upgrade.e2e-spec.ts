import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { MetricRollups } from '../../src/telemetry';
import { expectSummaryMatchesRawRows, NOW, seedRows } from '../support/metrics-oracle';
import { startTestApp } from '../support/test-app';
import { TestClock } from '../support/test-clock';
import { databaseUrl, onServer, testServer } from '../support/test-server';
import { TestDatabase } from '../support/test-database';

const ROOT = join(__dirname, '../..');

/** `npm run db:migrate` (the schema engine loads outside Jest only), its stdout. */
async function migrate(url: string, ...args: string[]): Promise<string> {
  const { stdout } = await promisify(execFile)(process.execPath, ['-r', '@swc-node/register', 'src/cli/migrate.ts', ...args], {
    cwd: ROOT,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, DATABASE_URL: url },
  });
  return stdout;
}

/** The migration that numbers rollup builds. */
const BUILD_NUMBERS = '20261214000000_metric_rollup_builds';
/** The last migration before EncryptionMetric was partitioned. */
const BEFORE_PARTITIONING = '20261210000000_cache_invalidation_notifications';

/**
 * The upgrade path: a database migrated up to the old schema that already holds metric
 * rows (the seed's columns only, id as the primary key), then the rest of the migrations.
 */
describe('metrics upgrade: partitioning and rollups over existing rows', () => {
  let database: TestDatabase;
  beforeAll(async () => {
    const { serverUrl, runId } = testServer();
    const name = `kms_t_${runId}_upgrade_${randomBytes(4).toString('hex')}`;
    await onServer(serverUrl, (client) => client.query(`CREATE DATABASE "${name}"`));
    database = {
      name,
      url: databaseUrl(serverUrl, name),
      drop: () => onServer(serverUrl, (client) => client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`)).then(() => undefined),
    };
  });
  afterAll(() => database.drop());

  it('keeps every row, in day partitions, marks their buckets, and the summary agrees once rolled up', async () => {
    expect(await migrate(database.url, '--up-to', BEFORE_PARTITIONING)).toMatch(new RegExp(`, ${BEFORE_PARTITIONING}\n$`));
    const rows = seedRows(2000, 5).map(({ durationMicros: _finer, ...seedColumns }) => seedColumns);
    await onServer(database.url, async (client) => {
      await client.query(
        `INSERT INTO "EncryptionMetric" ("id", "operation", "status", "errorReason", "keyId", "deviceId", "duration", "timestamp")
         SELECT 'old-' || row_number() OVER (), r.* FROM jsonb_to_recordset($1::jsonb)
           AS r("operation" text, "status" text, "errorReason" text, "keyId" text, "deviceId" text, "duration" int, "timestamp" timestamptz)`,
        [JSON.stringify(rows)],
      );
    });

    expect(await migrate(database.url)).toMatch(/^applied: (\S+, )*20261212000000_metric_rollups_partitions(,|\n)/);
    // Every bucket holding rows is marked for the rollup step (the 10 minutes of 50 h, their hours and 3 days).
    const marks = await onServer(database.url, (client) =>
      client.query(`SELECT "grainSeconds", count(*)::int AS n FROM "MetricRollupDirty" GROUP BY 1 ORDER BY 1`));
    expect(marks.rows).toEqual([{ grainSeconds: 600, n: 301 }, { grainSeconds: 3600, n: 51 }, { grainSeconds: 86400, n: 3 }]);

    // The service's clock at NOW from the start: its start-up rollup run judges retention by it.
    const clock = new TestClock();
    clock.set(NOW);
    const t = await startTestApp({ database, clock });
    try {
      expect(await t.prisma.encryptionMetric.count()).toBe(rows.length);
      const ids = await t.prisma.encryptionMetric.findMany({ select: { id: true }, where: { id: 'old-1' } });
      expect(ids).toEqual([{ id: 'old-1' }]);
      const layout = await t.prisma.$queryRaw<{ partitioned: boolean; partitions: string[]; inDefault: number }[]>`
        SELECT EXISTS (SELECT 1 FROM pg_partitioned_table WHERE partrelid = '"EncryptionMetric"'::regclass) AS partitioned,
               (SELECT array_agg(relname::text ORDER BY relname) FROM pg_inherits JOIN pg_class ON oid = inhrelid
                 WHERE inhparent = '"EncryptionMetric"'::regclass) AS partitions,
               (SELECT count(*)::int FROM "EncryptionMetric_default") AS "inDefault"`;
      expect(layout[0]).toMatchObject({ partitioned: true, inDefault: 0 });
      expect(layout[0].partitions).toEqual(expect.arrayContaining([
        'EncryptionMetric_default', 'EncryptionMetric_p20260601', 'EncryptionMetric_p20260602', 'EncryptionMetric_p20260603',
      ]));
      // Old rows have no microseconds: read as whole milliseconds.
      expect(await t.prisma.encryptionMetric.count({ where: { durationMicros: null } })).toBe(rows.length);

      for (const hours of [3, 24, 720]) await expectSummaryMatchesRawRows(t, hours);
      await t.app.get(MetricRollups).run();
      expect(await t.prisma.metricRollup.count()).toBeGreaterThan(40);
      for (const hours of [3, 24, 720]) await expectSummaryMatchesRawRows(t, hours);
    } finally {
      await t.close();
    }
  });

  it('numbers the buckets rolled up before build numbers existed, so that the summary can keep them', async () => {
    // The state before 20261214000000_metric_rollup_builds: rollups built, no MetricRollupBuild.
    const clock = new TestClock();
    clock.set(NOW);
    let t = await startTestApp({ database, clock });
    let built: number;
    try {
      await t.app.get(MetricRollups).run();
      built = await t.prisma.metricRollupBuild.count();
      expect(built).toBeGreaterThan(300);
    } finally {
      await t.close();
    }
    await onServer(database.url, (client) => client.query(`
      DROP TABLE "MetricRollupBuild";
      DELETE FROM "_prisma_migrations" WHERE "migration_name" = '${BUILD_NUMBERS}'`));

    expect(await migrate(database.url)).toMatch(new RegExp(`^applied: ${BUILD_NUMBERS}\n$`));
    t = await startTestApp({ database, clock });
    try {
      const numbered = await t.prisma.$queryRaw<{ buckets: number; numbers: number }[]>`
        SELECT count(*)::int AS buckets, count(DISTINCT "build")::int AS numbers FROM "MetricRollupBuild"`;
      expect(numbered).toEqual([{ buckets: built, numbers: built }]);
      // Twice: the second summary reads the buckets the first kept.
      for (const hours of [3, 24, 720, 3, 24, 720]) await expectSummaryMatchesRawRows(t, hours);
    } finally {
      await t.close();
    }
  });
});

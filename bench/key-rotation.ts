/**
 * `npm run bench:key-rotation`: one run of the daily job, through the real
 * service, on a fresh embedded PostgreSQL holding 100,000 expired keys and
 * 1,000,000 metric rows past retention (plus rows it must leave alone). Prints
 * the run's duration, its counts, and this process's peak RSS during the run.
 * BENCH_EXPIRED_KEYS, BENCH_OLD_METRICS and KEY_ROTATION_BATCH_SIZE change the sizes.
 * Metric rows live in day partitions: BENCH_PARTITIONS (default 90) days of them, plus
 * the day just past METRICS_RETENTION_DAYS (90), BENCH_ROWS_PER_DAY rows each (default
 * 10,000); the job drops that day's partition whole. BENCH_OLD_METRICS rows go to the
 * default partition (rows outside every day partition, deleted by batch), 0 by default.
 */
import 'reflect-metadata';
import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { NestFactory } from '@nestjs/core';
import { httpAdapter } from '../src/app.factory';
import { AppModule } from '../src/app.module';
import type { INestApplicationContext } from '@nestjs/common';
import { loadConfig } from '../src/config';
import { applyMigrations, startEmbeddedPostgres } from '../src/database';
import { KeyRotationService } from '../src/key-rotation';
import { MetricEventsRepository, MetricRollups } from '../src/telemetry';
import { freePort } from '../test/support/free-port';
import { aroundBatches } from '../test/support/key-rotation';
import { seedLifecycleRows } from '../test/support/lifecycle-rows';
import { onServer } from '../test/support/test-server';

const EXPIRED_KEYS = Number(process.env.BENCH_EXPIRED_KEYS ?? 100_000);
const OLD_METRICS = Number(process.env.BENCH_OLD_METRICS ?? 0);
const PARTITIONS = Number(process.env.BENCH_PARTITIONS ?? 90);
const ROWS_PER_DAY = Number(process.env.BENCH_ROWS_PER_DAY ?? 10_000);
const RETENTION_DAYS = 90;
const MB = 1024 * 1024;

async function main() {
  const dataDir = join(tmpdir(), `kms-bench-rotation-${randomBytes(4).toString('hex')}`);
  const embedded = await startEmbeddedPostgres({ dataDir, port: await freePort() });
  try {
    await applyMigrations(embedded.url);
    const now = new Date();
    const seeded = await timed(() =>
      onServer(embedded.url, async (client) => {
        // Day partitions from the day just past retention to yesterday, BENCH_ROWS_PER_DAY rows each.
        await client.query(
          `SELECT "kms_metric_partition_ensure"(day::date)
             FROM generate_series(($1::timestamptz AT TIME ZONE 'UTC')::date - $2::int, ($1::timestamptz AT TIME ZONE 'UTC')::date - 1, interval '1 day') AS day`,
          [now, PARTITIONS + 1],
        );
        await client.query(
          `INSERT INTO "EncryptionMetric" ("id", "keyId", "deviceId", "operation", "status", "duration", "durationMicros", "timestamp")
           SELECT gen_random_uuid()::text, 'k' || (i % 5000), 'd' || (i % 2000), 'decrypt', 'success', 1, 500 + i % 1000,
                  date_trunc('day', $1::timestamptz AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'
                    - ($2::int * interval '1 day') + (i::float8 / $3::int) * interval '1 day'
             FROM generate_series(0, $2::int * $3::int - 1) AS i`,
          [now, PARTITIONS + 1, ROWS_PER_DAY],
        );
        await seedLifecycleRows((sql, params) => client.query(sql, params), {
          now,
          expiredKeys: EXPIRED_KEYS,
          activeKeys: EXPIRED_KEYS / 10,
          oldMetrics: OLD_METRICS,
          recentMetrics: OLD_METRICS / 10,
          consumedCiphertexts: 10_000,
          keyGenerations: 10_000,
        });
        await client.query('ANALYZE');
      }),
    );
    print(`seeded in ${seeded.ms} ms: ${EXPIRED_KEYS} expired keys, ${EXPIRED_KEYS / 10} active keys,`);
    print(`  ${OLD_METRICS} metric rows past retention, ${OLD_METRICS / 10} recent ones (default partition), 10000 replay records, 10000 ledger rows`);
    print(`  ${PARTITIONS + 1} day partitions of ${ROWS_PER_DAY} metric rows (the oldest past METRICS_RETENTION_DAYS=${RETENTION_DAYS})`);

    const config = loadConfig({
      NODE_ENV: 'test',
      LOG_LEVEL: 'warn',
      DATABASE_URL: embedded.url,
      DATA_DIR: dataDir,
      KMS_MASTER_KEYS: `bench:${randomBytes(32).toString('base64')}`,
      KEY_ROTATION_BATCH_SIZE: process.env.KEY_ROTATION_BATCH_SIZE,
      METRICS_RETENTION_DAYS: String(RETENTION_DAYS),
    });
    const app = await NestFactory.create(AppModule.forRoot(config), httpAdapter(config), { logger: ['warn', 'error'] });
    await app.init();
    try {
      const steps = timeStatements(app);
      const rssBefore = process.memoryUsage.rss();
      let peakRss = rssBefore;
      const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage.rss())), 5);
      const run = await timed(() => app.get(KeyRotationService).run());
      clearInterval(sampler);
      peakRss = Math.max(peakRss, process.memoryUsage.rss());

      print(`job run: ${run.ms} ms (batch size ${config.rotation.batchSize})`);
      print(`counts: ${JSON.stringify(run.result)}`);
      for (const [step, { ms, statements }] of steps) print(`  ${step}: ${ms} ms in ${statements} statements`);
      print(`RSS: ${(rssBefore / MB).toFixed(1)} MB before the run, peak ${(peakRss / MB).toFixed(1)} MB during it`);
      const left = await onServer(embedded.url, (client) =>
        client.query<{ keys: string; metrics: string }>(
          `SELECT (SELECT count(*) FROM "ClientEncryptionKey") AS keys, (SELECT count(*) FROM "EncryptionMetric") AS metrics`,
        ),
      );
      const partitions = await onServer(embedded.url, (client) =>
        client.query<{ n: number }>(`SELECT count(*)::int AS n FROM pg_inherits WHERE inhparent = '"EncryptionMetric"'::regclass`));
      print(`left: ${left.rows[0].keys} keys, ${left.rows[0].metrics} metric rows, ${partitions.rows[0].n} partitions (default included)`);
      const metricMs = ['MetricEventsRepository.dropPartitionsBefore', 'MetricRollups.ensurePartitionsAhead', 'MetricRollups.deleteExpired',
        'MetricEventsRepository.deleteBefore'].reduce((sum, name) => sum + (steps.get(name)?.ms ?? 0), 0);
      print(`\njob_ms=${run.ms} metric_steps_ms=${metricMs} partitions_before=${PARTITIONS + 1} dropped_partitions=${run.result.droppedMetricPartitions} ` +
        `created_partitions=${run.result.createdMetricPartitions} deleted_metric_rows=${run.result.deletedMetrics} ` +
        `metric_rows=${left.rows[0].metrics} expired_keys=${EXPIRED_KEYS}`);
    } finally {
      await app.close();
    }
  } finally {
    await embedded.stop();
    await rm(dataDir, { recursive: true, force: true });
  }
}

/** Per batch statement: time spent and statements run (the job runs them one at a time). */
function timeStatements(app: INestApplicationContext) {
  const steps = new Map<string, { ms: number; statements: number }>();
  // The metric steps done in one go (partitions, rollups) are not batches: timed here.
  const oneGo: [object, string, string][] = [
    [app.get(MetricEventsRepository), 'MetricEventsRepository', 'dropPartitionsBefore'],
    [app.get(MetricRollups), 'MetricRollups', 'ensurePartitionsAhead'],
    [app.get(MetricRollups), 'MetricRollups', 'deleteExpired'],
  ];
  for (const [target, owner, method] of oneGo) {
    const original = (target as Record<string, (...args: unknown[]) => Promise<unknown>>)[method].bind(target);
    (target as Record<string, unknown>)[method] = async (...args: unknown[]) => {
      const { ms, result } = await timed(() => original(...args));
      const step = steps.get(`${owner}.${method}`) ?? { ms: 0, statements: 0 };
      steps.set(`${owner}.${method}`, { ms: step.ms + ms, statements: step.statements + 1 });
      return result;
    };
  }
  aroundBatches(app, async (name, proceed) => {
    const { ms, result } = await timed(proceed);
    const step = steps.get(name) ?? { ms: 0, statements: 0 };
    steps.set(name, { ms: step.ms + ms, statements: step.statements + 1 });
    return result;
  });
  return steps;
}

async function timed<T>(work: () => Promise<T>): Promise<{ ms: number; result: T }> {
  const started = performance.now();
  const result = await work();
  return { ms: Math.round(performance.now() - started), result };
}

const print = (line: string) => process.stdout.write(`${line}\n`);

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`bench failed: ${(error as Error).stack ?? String(error)}\n`);
    process.exit(1);
  },
);

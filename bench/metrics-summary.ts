/**
 * How long getEncryptionMetricsSummary takes over a window full of metric rows, read
 * from the rollups (closed buckets) plus the raw rows of the rest.
 *
 *   npm run bench:metrics-summary [-- --hours 24 --rows 1000000 --devices 20000 --keys 50000 --runs 7]
 *   npm run bench:metrics-summary -- --hours 720 --rows 30000000 [--failing-keys 1000]
 *   npm run bench:metrics-summary -- --reuse /tmp/kms-bench-<id> [--runs 7]
 *
 * --keep keeps the database (and what was loaded, in bench-load.json); --reuse <dir> times
 * the summary again over such a database, at the clock of its load (same window, no load).
 * --profile: then CPU-profiles this process over 50 more summaries with what it keeps,
 * and prints the top of the profile (bench/profile-summary.ts).
 *
 * Starts an embedded PostgreSQL in a temporary directory, applies the migrations, makes
 * the day partitions of the window, fills EncryptionMetric with generate_series (one
 * statement per day, timestamps spread over [now - hours, now], so the open hour has
 * rows too) and ClientEncryptionKey, runs VACUUM ANALYZE, lets the rollup step catch up
 * (timed), then times MetricsSummaryService.summarize(hours), the code behind the
 * GraphQL query: its first call in the process (nothing kept yet), then runs with what
 * the process keeps of closed buckets, runs with nothing kept, and its parts, next to
 * one count(*) over the window's raw rows.
 * Prints name=value pairs last.
 */
import 'reflect-metadata';
import { performance } from 'node:perf_hooks';
import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from 'pg';
import { Clock, CommonModule } from '../src/common';
import { ConfigModule } from '../src/config';
import { DatabaseModule, PrismaService } from '../src/database';
import { KeysService } from '../src/keys';
import { MetricsModule } from '../src/metrics';
import { MetricsSummaryService, SUMMARY_LIST_LIMIT } from '../src/metrics/metrics-summary.service';
import { MetricEventsRepository, MetricRollups, TelemetryModule } from '../src/telemetry';
import { Session } from 'node:inspector/promises';
import { tmpdir } from 'node:os';
import { printSummary, summariseProfiles } from './profile-summary';
import { numberOption as option, startBenchDatabase } from './support';

const HOUR_MS = 60 * 60 * 1000;

const out = (line: string) => process.stdout.write(`${line}\n`);

/** What a run loaded, kept beside a --keep database for --reuse. */
interface LoadFacts {
  hours: number;
  rows: number;
  devices: number;
  keys: number;
  failingKeys: number;
  now: string;
  loadSeconds: number;
  rollupSeconds: number;
  rollupBuckets: number;
}

async function main() {
  const runs = option('runs', 7);
  const reuseAt = process.argv.indexOf('--reuse');
  const reuseDir = reuseAt > 0 ? process.argv[reuseAt + 1] : undefined;
  const reused = reuseDir ? (JSON.parse(readFileSync(join(reuseDir, 'bench-load.json'), 'utf8')) as LoadFacts) : undefined;
  const hours = reused?.hours ?? option('hours', 24);
  const rows = reused?.rows ?? option('rows', 1_000_000);
  const devices = reused?.devices ?? option('devices', 20_000);
  const keys = reused?.keys ?? option('keys', 50_000);
  const failingKeys = reused?.failingKeys ?? option('failing-keys', 0);
  const now = reused ? new Date(reused.now) : new Date();

  // The bench runs the rollup step itself, timed.
  const database = await startBenchDatabase('kms-bench', { METRICS_ROLLUP_INTERVAL_MS: '3600000' }, reuseDir);
  try {
    const { config } = database;

    @Module({ imports: [ConfigModule.forRoot(config), CommonModule, DatabaseModule, TelemetryModule, MetricsModule] })
    class BenchModule {}
    const app = await NestFactory.createApplicationContext(BenchModule, { logger: false });
    // The clock stands at the load's time: a reused database is summarised over the same window.
    const clock = app.get(Clock);
    clock.now = () => new Date(now);
    try {
      const window = { from: new Date(now.getTime() - hours * HOUR_MS), to: now };
      const repository = app.get(MetricEventsRepository);
      const rollups = app.get(MetricRollups);
      let facts: LoadFacts;
      if (reused) {
        facts = reused;
        out(`reused ${reuseDir}: ${rows} rows over ${hours} h loaded at ${reused.now}`);
      } else {
        await rollups.run(); // the start-up run, done before the rows come
        await repository.ensurePartitions(new Date(window.from.getTime() - 24 * HOUR_MS), now);
        const loadSeconds = await fill(database.url, { rows, hours, devices, keys, failingKeys, now });
        const started = performance.now();
        const caughtUp = await rollups.run();
        const rollupSeconds = (performance.now() - started) / 1000;
        out(`rollup step caught up: ${caughtUp.built} buckets in ${rollupSeconds.toFixed(1)} s`);
        await analyze(database.url);
        facts = { hours, rows, devices, keys, failingKeys, now: now.toISOString(), loadSeconds, rollupSeconds, rollupBuckets: caughtUp.built };
        writeFileSync(join(database.dataDir, 'bench-load.json'), JSON.stringify(facts));
      }

      const summary = app.get(MetricsSummaryService);
      const firstStarted = performance.now();
      const result = await summary.summarize(hours);
      const first = performance.now() - firstStarted;
      out(`first summary of the process (nothing kept yet): ${first.toFixed(0)} ms`);
      const keepStarted = performance.now();
      await repository.keepingDone();
      const keeping = performance.now() - keepStarted;
      const kept = repository.keptRollups();
      out(`then kept in the background in ${keeping.toFixed(0)} ms: ${kept.entries} bucket parts, ` +
        `${(kept.bytes / 1024 / 1024).toFixed(1)} MB with ${kept.ids} interned ids`);
      out(`summary sees ${result.totals.total} rows in the window, ${result.devices.active} devices, ` +
        `${result.problematicKeys.count} problem keys`);
      const plan = await repository.inSnapshot(([reads]) => reads.plan(window));
      out(`window plan: ${plan.buckets.length} rolled-up buckets, ${plan.raw.length} raw ranges ` +
        `(${plan.raw.map((range) => `${((range.to.getTime() - range.from.getTime()) / 60_000).toFixed(0)} min`).join(', ')})`);

      out(`\nsummarize(${hours}), ${runs} runs:`);
      const whole = report('whole summary (one snapshot)', await time(runs, () => summary.summarize(hours)));
      // The same code with nothing kept between summaries (METRICS_SUMMARY_CACHE_MB=0): every bucket read each time.
      const keepNothing = { ...config, metrics: { ...config.metrics, summaryCacheBytes: 0 } };
      const uncached = new MetricsSummaryService(
        keepNothing, new MetricEventsRepository(app.get(PrismaService), keepNothing), app.get(KeysService), clock);
      const unkept = report('  ... with nothing kept', await time(runs, () => uncached.summarize(hours)));
      const thresholds = { minFailures: config.metrics.problemKeyMinFailures, minRate: config.metrics.problemKeyFailureRate };
      report('  plan', await time(runs, () => repository.inSnapshot(([reads]) => reads.plan(window))));
      report('  plan + operations + histograms', await time(runs, () => repository.inSnapshot(async ([reads]) => reads.operations(await reads.plan(window)))));
      report('  plan + devices', await time(runs, () => repository.inSnapshot(async ([reads]) => reads.devices(await reads.plan(window), SUMMARY_LIST_LIMIT))));
      report('  plan + problem keys', await time(runs, () => repository.inSnapshot(async ([reads]) => reads.problemKeys(await reads.plan(window), thresholds, SUMMARY_LIST_LIMIT))));
      report('  key states', await time(runs, () => app.get(KeysService).countByState()));
      if (process.argv.includes('--profile')) await profile(() => time(50, () => summary.summarize(hours)));
      const scan = report('count(*) over the raw rows of the window', await time(3, () => countRaw(database.url, window)));
      out(`\nhours=${hours} rows=${rows} devices=${devices} keys=${keys} failing_keys=${failingKeys || keys} load_s=${facts.loadSeconds.toFixed(1)} ` +
        `rollup_catch_up_s=${facts.rollupSeconds.toFixed(1)} rollup_buckets=${facts.rollupBuckets} ` +
        `summary_first_ms=${first.toFixed(1)} keep_ms=${keeping.toFixed(0)} kept_mb=${(kept.bytes / 1024 / 1024).toFixed(1)} summary_p50_ms=${whole.toFixed(1)} summary_nothing_kept_p50_ms=${unkept.toFixed(1)} raw_count_ms=${scan.toFixed(1)} ratio=${(scan / whole).toFixed(1)}`);
    } finally {
      await app.close();
    }
  } finally {
    if (process.argv.includes('--keep') || reuseDir) {
      out(`kept: ${database.dataDir} (${database.url})`);
    } else {
      await database.stop();
    }
  }
}

async function withClient<T>(url: string, work: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

async function analyze(url: string) {
  await withClient(url, async (client) => {
    await client.query('VACUUM ANALYZE "EncryptionMetric"');
    for (const table of ['MetricRollup', 'MetricDeviceRollup', 'MetricDeviceSketch', 'MetricKeyRollup', 'ClientEncryptionKey']) {
      await client.query(`VACUUM ANALYZE "${table}"`);
    }
  });
}

function countRaw(url: string, window: { from: Date; to: Date }) {
  return withClient(url, (client) =>
    client.query('SELECT count(*) FROM "EncryptionMetric" WHERE "timestamp" BETWEEN $1 AND $2', [window.from, window.to]));
}

async function fill(
  url: string,
  options: { rows: number; hours: number; devices: number; keys: number; failingKeys: number; now: Date },
): Promise<number> {
  const { rows, hours, devices, keys, failingKeys, now } = options;
  return withClient(url, async (client) => {
    const started = performance.now();
    await client.query('SELECT setseed(0.42)');
    // One statement per day of the window (or less): the insert trigger's transition table stays small.
    const chunks = Math.max(1, Math.ceil(hours / 24));
    for (let chunk = 0; chunk < chunks; chunk += 1) {
      const count = Math.floor(rows / chunks) + (chunk < rows % chunks ? 1 : 0);
      const chunkHours = hours / chunks;
      const end = new Date(now.getTime() - chunk * chunkHours * HOUR_MS);
      await client.query(insertMetrics, [count, `${chunkHours * 3600} seconds`, end, devices, keys, failingKeys || keys]);
    }
    await client.query(insertKeys, [keys, devices]);
    const loaded = performance.now();
    out(`loaded ${rows} rows over ${hours} h, ${keys} keys in ${((loaded - started) / 1000).toFixed(1)} s`);
    return (loaded - started) / 1000;
  });
}

/**
 * $1 rows, timestamps spread over the $2 before $3; 5% failures; $4 devices and $5 keys
 * (failures on the first $6 keys only: --failing-keys, default all) picked uniformly (the
 * worst case for per-bucket structures), with ids as long as real ones (UUIDs); durations
 * in microseconds, most under a millisecond. In time order, as the recorder appends them
 * (an hour's rows are neighbours on disk).
 */
const insertMetrics = `
  INSERT INTO "EncryptionMetric" ("id", "keyId", "deviceId", "operation", "status", "errorReason", "duration", "durationMicros", "timestamp")
  SELECT gen_random_uuid()::text,
         CASE WHEN op = 'generate' AND failed THEN NULL
              WHEN failed THEN md5('key' || (random() * $6::int)::int)::uuid::text
              ELSE md5('key' || (random() * $5::int)::int)::uuid::text END,
         md5('device' || (random() * $4::int)::int)::uuid::text,
         op,
         CASE WHEN failed THEN 'failure' ELSE 'success' END,
         CASE WHEN NOT failed THEN NULL
              WHEN op = 'generate' THEN 'RATE_LIMITED'
              ELSE (ARRAY['DECRYPTION_FAILED', 'KEY_EXPIRED', 'KEY_NOT_FOUND', 'CREDENTIAL_LOCKED'])[1 + (random() * 3)::int]
         END,
         round(micros / 1000.0)::int, micros, at
    FROM (SELECT $3::timestamptz - random() * $2::interval AS at, (ARRAY['generate', 'encrypt', 'decrypt', 'decrypt', 'verifyPasscode', 'verifyTransactionPin'])
                   [1 + (random() * 5)::int] AS op,
                 random() < 0.05 AS failed
            FROM generate_series(1, $1::int)) generated
   CROSS JOIN LATERAL (SELECT CASE WHEN op = 'generate' THEN 100000 + (random() * 200000)::int
                                   ELSE 50 + (random() * random() * 3000)::int END AS micros) duration
   ORDER BY at`;

/** Keys of realistic width (SPKI PEM about 450 bytes, wrapped PKCS#8 about 1,700). */
const insertKeys = `
  INSERT INTO "ClientEncryptionKey" ("id", "deviceId", "publicKey", "privateKey", "expiresAt", "deprecated",
                                     "deprecatedAt", "revokedAt", "createdAt", "updatedAt")
  SELECT md5('key' || i)::uuid::text, md5('device' || (i % $2::int))::uuid::text,
         (SELECT string_agg(md5(random()::text || i || part), '') FROM generate_series(1, 14) part),
         (SELECT string_agg(md5(random()::text || i || part), '') FROM generate_series(1, 53) part),
         created + interval '30 days', deprecated, CASE WHEN deprecated THEN created + interval '30 days' END,
         CASE WHEN i % 100 = 0 THEN created + interval '1 day' END, created, created
    FROM (SELECT i, now() - random() * interval '150 days' AS created, random() < 0.3 AS deprecated
            FROM generate_series(1, $1::int) i) generated`;

async function time(runs: number, work: () => Promise<unknown>): Promise<number[]> {
  const durations: number[] = [];
  for (let run = 0; run < runs; run += 1) {
    const started = performance.now();
    await work();
    durations.push(performance.now() - started);
  }
  return durations;
}

/** CPU-profiles this process (its main thread) during `work`; prints the top and where the file is. */
async function profile(work: () => Promise<unknown>) {
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: 200 });
  await session.post('Profiler.start');
  await work();
  const { profile: result } = await session.post('Profiler.stop');
  session.disconnect();
  const file = join(tmpdir(), `kms-bench-summary-${Date.now()}.cpuprofile`);
  writeFileSync(file, JSON.stringify(result));
  printSummary(`profile of 50 summaries with what the process keeps (${file})`, summariseProfiles([file], 25));
}

function report(label: string, durations: number[]): number {
  const sorted = [...durations].sort((a, b) => a - b);
  const median = sorted[Math.floor(sorted.length / 2)];
  out(
    `${label.padEnd(38)} min ${sorted[0].toFixed(0).padStart(5)} ms   median ${median.toFixed(0).padStart(5)} ms` +
      `   max ${sorted[sorted.length - 1].toFixed(0).padStart(5)} ms`,
  );
  return median;
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  },
);

/**
 * How long getEncryptionMetricsSummary takes over 1,000,000 metric rows in its window.
 *
 *   npm run bench:metrics-summary [-- --rows 1000000 --older 0 --keys 50000 --runs 7 --without-indexes --no-vacuum]
 *
 * Starts an embedded PostgreSQL in a temporary directory, applies the migrations, fills
 * EncryptionMetric with generate_series (timestamps spread over the last 23 hours, plus
 * `--older` rows before the window) and ClientEncryptionKey with keys of realistic size,
 * runs VACUUM ANALYZE (what autovacuum does after a bulk load), then times
 * MetricsSummaryService.summarize(24), the code behind the GraphQL query, and each of
 * its queries. `--without-indexes` first drops the indexes added for the summary;
 * `--no-vacuum` only analyzes (right after a bulk load, before autovacuum has set the
 * visibility map that index-only scans rely on).
 */
import 'reflect-metadata';
import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Client } from 'pg';
import { CommonModule } from '../src/common';
import { ConfigModule, loadConfig } from '../src/config';
import { applyMigrations, DatabaseModule, startEmbeddedPostgres } from '../src/database';
import { KeysService } from '../src/keys';
import { MetricsModule } from '../src/metrics';
import { MetricsSummaryService, SUMMARY_LIST_LIMIT } from '../src/metrics/metrics-summary.service';
import { MetricEventsRepository, TelemetryModule } from '../src/telemetry';
import { freePort } from '../test/support/free-port';

/** The index added for the summary (prisma/migrations/*_metrics_failures_index). */
const SUMMARY_INDEXES = ['EncryptionMetric_failures_idx'];

const HOUR_MS = 60 * 60 * 1000;

function option(name: string, fallback: number): number {
  const at = process.argv.indexOf(`--${name}`);
  return at > 0 ? Number(process.argv[at + 1]) : fallback;
}

const out = (line: string) => process.stdout.write(`${line}\n`);

async function main() {
  const rows = option('rows', 1_000_000);
  const older = option('older', 0);
  const keys = option('keys', 50_000);
  const runs = option('runs', 7);
  const withoutIndexes = process.argv.includes('--without-indexes');
  const vacuum = !process.argv.includes('--no-vacuum');

  // Not mkdtemp: its 0700 directory would shut out the `postgres` user when run as root.
  const dataDir = join(tmpdir(), `kms-bench-${randomBytes(4).toString('hex')}`);
  const server = await startEmbeddedPostgres({ dataDir, port: await freePort(), database: 'kms_bench' });
  try {
    await applyMigrations(server.url);
    await fill(server.url, { rows, older, keys, withoutIndexes, vacuum });
    const config = loadConfig({
      NODE_ENV: 'test',
      LOG_LEVEL: 'silent',
      DATABASE_URL: server.url,
      KMS_MASTER_KEYS: `bench:${randomBytes(32).toString('base64')}`,
    });

    @Module({ imports: [ConfigModule.forRoot(config), CommonModule, DatabaseModule, TelemetryModule, MetricsModule] })
    class BenchModule {}
    const app = await NestFactory.createApplicationContext(BenchModule, { logger: false });
    try {
      const summary = app.get(MetricsSummaryService);
      const repository = app.get(MetricEventsRepository);
      const result = await summary.summarize(24);
      out(`summary sees ${result.totals.total} rows in the window, ${result.devices.active} devices`);

      out(`\nsummarize(24), ${runs} runs ${withoutIndexes ? 'WITHOUT' : 'with'} the summary indexes:`);
      report('whole summary (one snapshot)', await time(runs, () => summary.summarize(24)));
      const now = new Date();
      const window = { from: new Date(now.getTime() - 24 * HOUR_MS), to: now };
      const thresholds = {
        minFailures: config.metrics.problemKeyMinFailures,
        minRate: config.metrics.problemKeyFailureRate,
      };
      report('  operations + percentiles', await time(runs, () => repository.inSnapshot((reads) => reads.operations(window))));
      report('  failures by reason', await time(runs, () => repository.inSnapshot((reads) => reads.failures(window))));
      report('  devices', await time(runs, () => repository.inSnapshot((reads) => reads.devices(window, SUMMARY_LIST_LIMIT))));
      report('  problem keys', await time(runs, () => repository.inSnapshot((reads) => reads.problemKeys(window, thresholds, SUMMARY_LIST_LIMIT))));
      report('  key states', await time(runs, () => app.get(KeysService).countByState()));
    } finally {
      await app.close();
    }
  } finally {
    await server.stop();
    await rm(dataDir, { recursive: true, force: true });
  }
}

async function fill(
  url: string,
  options: { rows: number; older: number; keys: number; withoutIndexes: boolean; vacuum: boolean },
) {
  const { rows, older, keys, withoutIndexes, vacuum } = options;
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    const started = performance.now();
    await client.query('SELECT setseed(0.42)');
    await client.query(insertMetrics, [rows, '23 hours', 0]);
    if (older > 0) await client.query(insertMetrics, [older, '60 days', 25]);
    await client.query(insertKeys, [keys]);
    const loaded = performance.now();
    if (withoutIndexes) {
      for (const index of SUMMARY_INDEXES) await client.query(`DROP INDEX IF EXISTS "${index}"`);
    }
    const maintenance = vacuum ? 'VACUUM ANALYZE' : 'ANALYZE';
    await client.query(`${maintenance} "EncryptionMetric"`);
    await client.query(`${maintenance} "ClientEncryptionKey"`);
    const sizes = await client.query(
      `SELECT pg_size_pretty(pg_table_size('"EncryptionMetric"')) AS heap,
              string_agg(indexrelid::regclass || ' ' || pg_size_pretty(pg_relation_size(indexrelid)), ', ') AS indexes
         FROM pg_index WHERE indrelid = '"EncryptionMetric"'::regclass`,
    );
    const size = sizes.rows[0];
    out(
      `loaded ${rows} rows in the window, ${older} before it, ${keys} keys in ` +
        `${((loaded - started) / 1000).toFixed(1)} s; ${maintenance.toLowerCase()} ` +
        `${((performance.now() - loaded) / 1000).toFixed(1)} s\nEncryptionMetric: table ${size.heap}; indexes ${size.indexes}`,
    );
  } finally {
    await client.end();
  }
}

/**
 * $1 rows, timestamps spread over $2 ending $3 hours ago; 5% failures; 20,000 devices and
 * 50,000 keys, with ids as long as real ones (UUIDs).
 */
const insertMetrics = `
  INSERT INTO "EncryptionMetric" ("id", "keyId", "deviceId", "operation", "status", "errorReason", "duration", "timestamp")
  SELECT gen_random_uuid()::text,
         CASE WHEN op = 'generate' AND failed THEN NULL ELSE md5('key' || (random() * 50000)::int)::uuid::text END,
         md5('device' || (random() * 20000)::int)::uuid::text,
         op,
         CASE WHEN failed THEN 'failure' ELSE 'success' END,
         CASE WHEN NOT failed THEN NULL
              WHEN op = 'generate' THEN 'RATE_LIMITED'
              ELSE (ARRAY['DECRYPTION_FAILED', 'KEY_EXPIRED', 'KEY_NOT_FOUND', 'CREDENTIAL_LOCKED'])[1 + (random() * 3)::int]
         END,
         CASE WHEN op = 'generate' THEN 100 + (random() * 200)::int ELSE (random() * random() * 40)::int END,
         now() - make_interval(hours => $3) - random() * $2::interval
    FROM (SELECT (ARRAY['generate', 'encrypt', 'decrypt', 'decrypt', 'verifyPasscode', 'verifyTransactionPin'])
                   [1 + (random() * 5)::int] AS op,
                 random() < 0.05 AS failed
            FROM generate_series(1, $1::int)) generated`;

/** Keys of realistic width (SPKI PEM about 450 bytes, wrapped PKCS#8 about 1,700). */
const insertKeys = `
  INSERT INTO "ClientEncryptionKey" ("id", "deviceId", "publicKey", "privateKey", "expiresAt", "deprecated",
                                     "deprecatedAt", "revokedAt", "createdAt", "updatedAt")
  SELECT md5('key' || i)::uuid::text, md5('device' || (i % 20000))::uuid::text,
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

function report(label: string, durations: number[]) {
  const sorted = [...durations].sort((a, b) => a - b);
  const median = sorted[Math.floor(sorted.length / 2)];
  out(
    `${label.padEnd(38)} min ${sorted[0].toFixed(0).padStart(5)} ms   median ${median.toFixed(0).padStart(5)} ms` +
      `   max ${sorted[sorted.length - 1].toFixed(0).padStart(5)} ms`,
  );
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  },
);

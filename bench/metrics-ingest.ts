/**
 * Does the recorder's batched write keep up? Drives MetricsRecorder.record() at a fixed
 * rate for a while, on a fresh embedded PostgreSQL, and reports the rate at which rows
 * reached the table, the buffer's high-water mark (rows not yet written) and drops. Then
 * times one batch write both ways: the INSERT ... SELECT FROM unnest(...) now used, and
 * Prisma's createMany it replaced.
 *
 *   npm run bench:metrics-ingest [-- --rate 5000 --seconds 20 --batches 100]
 */
import 'reflect-metadata';
import { performance } from 'node:perf_hooks';
import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { CommonModule } from '../src/common';
import { ConfigModule } from '../src/config';
import { DatabaseModule, PrismaService } from '../src/database';
import { MetricEvent, MetricEventsRepository, MetricsRecorder, OPERATIONS, TelemetryModule } from '../src/telemetry';
import { numberOption as option, startBenchDatabase } from './support';

const out = (line: string) => process.stdout.write(`${line}\n`);

let sequence = 0;
function event(): MetricEvent {
  sequence += 1;
  const micros = 80 + ((sequence * 7919) % 4000);
  return {
    operation: OPERATIONS[sequence % OPERATIONS.length],
    status: sequence % 20 === 0 ? 'failure' : 'success',
    errorReason: sequence % 20 === 0 ? 'DECRYPTION_FAILED' : null,
    keyId: `3f1c2a7e-5b4d-4e8f-9a6b-${String(sequence % 50_000).padStart(12, '0')}`,
    deviceId: `9d8e7f6a-1b2c-4d3e-8f9a-${String(sequence % 20_000).padStart(12, '0')}`,
    duration: Math.round(micros / 1000),
    durationMicros: micros,
    timestamp: new Date(),
  };
}

async function main() {
  const rate = option('rate', 5000);
  const seconds = option('seconds', 20);
  const batches = option('batches', 100);
  const database = await startBenchDatabase('kms-bench-ingest');
  try {
    const { config } = database;

    @Module({ imports: [ConfigModule.forRoot(config), CommonModule, DatabaseModule, TelemetryModule] })
    class BenchModule {}
    const app = await NestFactory.createApplicationContext(BenchModule, { logger: false });
    await app.init();
    try {
      const recorder = app.get(MetricsRecorder);
      const prisma = app.get(PrismaService);
      // Let the start-up work (partitions ahead, first rollup run) settle.
      await new Promise((resolve) => setTimeout(resolve, 2000));

      // 1. The recorder at `rate` events per second, in 10 ms ticks.
      let highWater = 0;
      let recorded = 0;
      const started = performance.now();
      await new Promise<void>((resolve) => {
        const tick = setInterval(() => {
          const due = Math.floor(((performance.now() - started) / 1000) * rate) - recorded;
          for (let i = 0; i < due; i += 1) recorder.record(event());
          recorded += Math.max(0, due);
          highWater = Math.max(highWater, recorder.depth);
          if (performance.now() - started >= seconds * 1000) {
            clearInterval(tick);
            resolve();
          }
        }, 10);
      });
      const depthAtEnd = recorder.depth;
      await recorder.flush();
      const elapsed = (performance.now() - started) / 1000;
      const written = await prisma.encryptionMetric.count();
      out(`recorder: ${recorded} events in ${seconds} s (${(recorded / seconds).toFixed(0)}/s offered), ` +
        `${written} rows written, buffer high-water ${highWater} rows (batch ${config.metrics.batchSize}), ` +
        `${depthAtEnd} waiting at the end, ${recorder.dropped} dropped, ${recorder.writeFailures} failed writes`);

      // 2. One batch, both ways.
      const repository = app.get(MetricEventsRepository);
      const batch = () => Array.from({ length: config.metrics.batchSize }, event);
      const timeBatches = async (write: (events: MetricEvent[]) => Promise<unknown>) => {
        const t0 = performance.now();
        for (let i = 0; i < batches; i += 1) await write(batch());
        return (performance.now() - t0) / batches;
      };
      const unnest = await timeBatches((events) => repository.insertMany(events));
      const createMany = await timeBatches((events) => prisma.encryptionMetric.createMany({ data: events }));
      out(`one batch of ${config.metrics.batchSize}: unnest insert ${unnest.toFixed(1)} ms, Prisma createMany ${createMany.toFixed(1)} ms`);
      out(`\nrate_offered=${(recorded / seconds).toFixed(0)} rate_written=${(written / elapsed).toFixed(0)} ` +
        `buffer_high_water=${highWater} dropped=${recorder.dropped} batch_ms_unnest=${unnest.toFixed(1)} ` +
        `batch_ms_createMany=${createMany.toFixed(1)} rows_per_s_unnest=${((config.metrics.batchSize * 1000) / unnest).toFixed(0)}`);
    } finally {
      await app.close();
    }
  } finally {
    await database.stop();
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  },
);

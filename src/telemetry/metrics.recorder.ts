import {
  BeforeApplicationShutdown,
  Inject,
  Injectable,
  Logger,
  OnApplicationShutdown,
  OnModuleInit,
} from '@nestjs/common';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { Clock, describeFailure, Observers } from '../common';
import { APP_CONFIG, type AppConfig } from '../config';
import { inOperationScope } from './measured';
import type { MetricEvent, MetricTags } from './metric-event';
import { MetricEventsRepository } from './metric-events.repository';
import type { OperationName } from './operations';

/** Longest pause between write attempts while the database refuses them. */
const MAX_RETRY_DELAY_MS = 30_000;
/** Write attempts at shutdown before the remaining rows are given up (and counted). */
const SHUTDOWN_ATTEMPTS = 3;
/** durationMicros is an int column: about 35 minutes. */
const MAX_DURATION_MICROS = 2 ** 31 - 1;
/** Ids reach the row as the caller sent them (a JWE `kid`): bound them. */
const MAX_ID_LENGTH = 256;

/**
 * Metric rows are buffered and written in batches, off the request path: at most
 * METRICS_FLUSH_INTERVAL_MS or METRICS_BATCH_SIZE rows apart, one write at a time.
 * A failed batch goes back to the front of the buffer and is retried with a growing
 * pause, so a database outage loses nothing until the buffer is full.
 * The buffer (rows waiting plus the batch being written) is bounded by
 * METRICS_BUFFER_MAX: beyond it NEW rows are dropped and counted (`dropped`), while
 * observers (Prometheus) still see every event.
 * Shutdown (app.close()): Apollo first drains the GraphQL requests under way; then
 * everything buffered is written, and from then on each row as it comes (a job still
 * running); a last flush runs after HTTP has closed, before the database disconnects.
 * Rows that still cannot be written (a few attempts) are logged and counted as dropped.
 */
@Injectable()
export class MetricsRecorder implements OnModuleInit, BeforeApplicationShutdown, OnApplicationShutdown {
  private readonly logger = new Logger(MetricsRecorder.name);
  private buffer: MetricEvent[] = [];
  private writing = 0;
  private running?: Promise<void>;
  private queued?: Promise<void>;
  private timer?: NodeJS.Timeout;
  private state: 'open' | 'closing' | 'closed' = 'open';
  private droppedTotal = 0;
  private failedWrites = 0;
  private consecutiveFailures = 0;
  private retryAt = 0;
  private readonly observers = new Observers<MetricEvent>(this.logger, 'metric observer failed');
  private operationsRunning = 0;
  private lastFinishedAt = -Infinity;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly repository: MetricEventsRepository,
    private readonly clock: Clock,
  ) {}

  onModuleInit() {
    this.timer = setInterval(() => {
      if (this.buffer.length > 0 && performance.now() >= this.retryAt) void this.flush();
    }, this.config.metrics.flushIntervalMs);
    this.timer.unref();
  }

  /** After GraphQL has drained: write what we have, then write each row as it comes. */
  async beforeApplicationShutdown() {
    clearInterval(this.timer);
    this.state = 'closing';
    await this.drain();
  }

  /** After HTTP has drained; PrismaService disconnects after us (it is the last hook). */
  async onApplicationShutdown() {
    await this.drain();
    this.state = 'closed';
    if (this.buffer.length > 0) {
      this.logger.error({ lost: this.buffer.length }, 'metric rows not written at shutdown');
      this.droppedTotal += this.buffer.length;
      this.buffer = [];
    }
  }

  /** Rows not yet in the database: buffered plus the batch being written. */
  get depth(): number {
    return this.buffer.length + this.writing;
  }

  /** Rows given up: buffer full, or not writable at shutdown. */
  get dropped(): number {
    return this.droppedTotal;
  }

  /** Batch writes that failed (each is retried). */
  get writeFailures(): number {
    return this.failedWrites;
  }

  /** Called for every event, buffered or not (Prometheus counters). */
  onEvent(observer: (event: MetricEvent) => void) {
    this.observers.add(observer);
  }

  record(event: MetricEvent) {
    this.observers.notify(event);
    if (this.state === 'closed' || this.depth >= this.config.metrics.bufferMax) {
      this.droppedTotal += 1;
      return;
    }
    this.buffer.push(sanitized(event));
    const batchReady =
      this.buffer.length >= this.config.metrics.batchSize && performance.now() >= this.retryAt;
    if (this.state === 'closing' || batchReady) void this.flush();
  }

  /**
   * Runs `work` as one operation (its own tag scope, see tagOperation), then records
   * one success or failure row with its duration. A failure's reason is the error
   * code, its detail the error's internal reason; never the message. An operation
   * that returns but was tagged with a refusal (tagOperation) is a failure too.
   */
  async measure<T>(operation: OperationName, tags: MetricTags, work: () => Promise<T>): Promise<T> {
    const started = performance.now();
    const timestamp = this.clock.now();
    const finish = (status: 'success' | 'failure', failure?: { code: string; reason: string }) => {
      const elapsed = performance.now() - started;
      this.record({
        operation,
        status,
        errorReason: failure?.code ?? null,
        errorDetail: failure && failure.reason !== failure.code ? failure.reason : null,
        keyId: tags.keyId ?? null,
        deviceId: tags.deviceId ?? null,
        duration: Math.round(elapsed),
        durationMicros: Math.min(MAX_DURATION_MICROS, Math.round(elapsed * 1000)),
        timestamp,
      });
    };
    this.operationsRunning += 1;
    try {
      const result = await inOperationScope(tags, work);
      if (tags.refusal) finish('failure', tags.refusal);
      else finish('success');
      return result;
    } catch (error) {
      finish('failure', describeFailure(error));
      throw error;
    } finally {
      this.operationsRunning -= 1;
      this.lastFinishedAt = performance.now();
    }
  }

  /**
   * How busy this process is with measured operations (every request that does real
   * work is one): how many run now, and when the last one finished (performance.now(),
   * -Infinity before any). Background work (the key pool's refill) waits for a lull.
   */
  get activity(): { running: number; lastFinishedAt: number } {
    return { running: this.operationsRunning, lastFinishedAt: this.lastFinishedAt };
  }

  /**
   * Writes everything buffered when called (ignoring any retry pause); resolves when
   * that is done or a write has failed. One write runs at a time: a call during a
   * run waits for it, then starts one more run for rows that came in meanwhile.
   * Rows recorded after the last call wait for the next one.
   */
  flush(): Promise<void> {
    if (!this.running) return this.startRun();
    this.queued ??= this.running.then(() => {
      this.queued = undefined;
      // Another caller may have started a run in between: it covers our rows too.
      return this.running ?? this.startRun();
    });
    return this.queued;
  }

  private startRun(): Promise<void> {
    this.running = this.writeAll().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  /**
   * Writes the rows buffered when the run starts, and no more: rows that arrive
   * during its writes wait for the next trigger (interval, full batch, another
   * flush). Looping until the buffer is empty would, under steady load, chase the
   * requests with one small INSERT per round trip (a few rows each), costing a
   * statement and a WAL flush per handful of requests instead of per batch.
   */
  private async writeAll() {
    let remaining = this.buffer.length;
    while (remaining > 0 && this.buffer.length > 0) {
      const batch = this.buffer.splice(0, Math.min(remaining, this.config.metrics.batchSize));
      remaining -= batch.length;
      this.writing = batch.length;
      try {
        await this.repository.insertMany(batch);
      } catch (error) {
        // Counted in `depth` all along, so putting them back keeps the bound.
        this.buffer = batch.concat(this.buffer);
        this.writeFailed(error);
        return;
      } finally {
        this.writing = 0;
      }
      this.writeSucceeded();
    }
  }

  private writeFailed(error: unknown) {
    this.failedWrites += 1;
    this.consecutiveFailures += 1;
    const delay = Math.min(
      MAX_RETRY_DELAY_MS,
      this.config.metrics.flushIntervalMs * 2 ** (this.consecutiveFailures - 1),
    );
    this.retryAt = performance.now() + delay;
    // The driver's message can carry row values: name and code only.
    const details = {
      errorName: (error as Error)?.name,
      code: (error as { code?: unknown })?.code,
      pending: this.buffer.length,
      retryInMs: delay,
    };
    if (this.consecutiveFailures === 1) this.logger.warn(details, 'metric rows not written; retrying');
    else this.logger.debug(details, 'metric rows still not written');
  }

  private writeSucceeded() {
    if (this.consecutiveFailures > 0) {
      this.logger.log({ failedAttempts: this.consecutiveFailures }, 'metric rows written again');
    }
    this.consecutiveFailures = 0;
    this.retryAt = 0;
  }

  private async drain() {
    for (let attempt = 1; ; attempt += 1) {
      await this.flush();
      if (this.depth === 0 || attempt >= SHUTDOWN_ATTEMPTS) return;
      await sleep(100 * attempt);
    }
  }
}

/** PostgreSQL text cannot hold NUL: one bad id must not poison a whole batch. */
function sanitized(event: MetricEvent): MetricEvent {
  return { ...event, keyId: cleanId(event.keyId), deviceId: cleanId(event.deviceId), errorDetail: cleanId(event.errorDetail) };
}

function cleanId(value: string | null | undefined): string | null {
  if (value === null || value === undefined) return null;
  return value.replace(/\0/g, '\uFFFD').slice(0, MAX_ID_LENGTH);
}

import {
  BeforeApplicationShutdown,
  Inject,
  Injectable,
  Logger,
  OnModuleInit,
} from '@nestjs/common';
import { performance } from 'node:perf_hooks';
import { APP_CONFIG } from '../config/config.module';
import type { AppConfig } from '../config/app-config';
import { Clock } from '../common/clock';
import { ErrorCode } from '../common/errors/error-code';
import { KmsError } from '../common/errors/kms-error';
import type { MetricEvent, MetricTags } from './metric-event';
import { MetricsRepository } from './metrics.repository';

/**
 * Metric rows are buffered and written in batches, off the request path: at most
 * METRICS_FLUSH_INTERVAL_MS or METRICS_BATCH_SIZE rows apart, and all of them on
 * shutdown. The buffer is bounded (METRICS_BUFFER_MAX): when the database cannot
 * keep up, new rows are dropped and counted rather than growing memory.
 */
@Injectable()
export class MetricsRecorder implements OnModuleInit, BeforeApplicationShutdown {
  private readonly logger = new Logger(MetricsRecorder.name);
  private buffer: MetricEvent[] = [];
  private timer?: NodeJS.Timeout;
  private inFlight: Promise<void> = Promise.resolve();
  private droppedTotal = 0;
  private readonly observers: ((event: MetricEvent) => void)[] = [];

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly repository: MetricsRepository,
    private readonly clock: Clock,
  ) {}

  onModuleInit() {
    this.timer = setInterval(() => void this.flush(), this.config.metrics.flushIntervalMs);
    this.timer.unref();
  }

  async beforeApplicationShutdown() {
    clearInterval(this.timer);
    await this.flush();
  }

  get depth(): number {
    return this.buffer.length;
  }

  get dropped(): number {
    return this.droppedTotal;
  }

  /** Called for every event, buffered or not (Prometheus counters). */
  onEvent(observer: (event: MetricEvent) => void) {
    this.observers.push(observer);
  }

  record(event: MetricEvent) {
    for (const observer of this.observers) observer(event);
    if (this.buffer.length >= this.config.metrics.bufferMax) {
      this.droppedTotal += 1;
      return;
    }
    this.buffer.push(event);
    if (this.buffer.length >= this.config.metrics.batchSize) void this.flush();
  }

  /**
   * Runs `work`, then records one success or failure row with its duration. The
   * failure reason is the error code, never the message.
   */
  async measure<T>(
    operation: string,
    tags: MetricTags,
    work: (tags: MetricTags) => Promise<T>,
  ): Promise<T> {
    const started = performance.now();
    const timestamp = this.clock.now();
    const finish = (status: 'success' | 'failure', errorReason: string | null) =>
      this.record({
        operation,
        status,
        errorReason,
        keyId: tags.keyId ?? null,
        deviceId: tags.deviceId ?? null,
        duration: Math.round(performance.now() - started),
        timestamp,
      });
    try {
      const result = await work(tags);
      finish('success', null);
      return result;
    } catch (error) {
      finish('failure', error instanceof KmsError ? error.code : ErrorCode.INTERNAL);
      throw error;
    }
  }

  /** Writes everything buffered so far; concurrent calls queue behind each other. */
  flush(): Promise<void> {
    this.inFlight = this.inFlight.then(() => this.writeAll());
    return this.inFlight;
  }

  private async writeAll() {
    while (this.buffer.length > 0) {
      const batch = this.buffer.splice(0, this.config.metrics.batchSize);
      try {
        await this.repository.insertMany(batch);
      } catch (error) {
        // Keep the rows for the next attempt (still within the bound) and stop for now.
        const room = Math.max(0, this.config.metrics.bufferMax - this.buffer.length);
        this.droppedTotal += Math.max(0, batch.length - room);
        this.buffer.unshift(...batch.slice(0, room));
        this.logger.warn(
          { errorName: (error as Error).name, pending: this.buffer.length },
          'metric batch not written; will retry',
        );
        return;
      }
    }
  }
}

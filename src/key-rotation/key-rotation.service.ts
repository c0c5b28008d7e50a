import { BeforeApplicationShutdown, Inject, Injectable, Logger } from '@nestjs/common';
import { performance } from 'node:perf_hooks';
import { AuthMaintenance } from '../auth';
import { Clock } from '../common';
import { APP_CONFIG, type AppConfig } from '../config';
import { AdvisoryLock, Batch, Exclusive } from '../database';
import { KeyMaintenance } from '../keys';
import { JobReports, Measured, MetricEventsRepository, MetricRollups } from '../telemetry';
import { noCounts, RotationCounts, RotationReport } from './rotation-report';

const DAY_MS = 24 * 60 * 60 * 1000;
export const KEY_ROTATION_LOCK = 'kms:key-rotation';

type Step = [keyof RotationCounts, (limit: number) => Promise<number>];

/**
 * The daily lifecycle job (docs/contract.md, key lifecycle): deprecate expired keys, delete keys
 * past retention, make metric day partitions ahead, drop those past retention (and
 * delete old rows outside them, and old rollups), purge spent single-use records, old
 * rate-limit ledger rows and the attempt counters of unknown users (placeholder
 * credential rows) quiet for a lock-out window. One runner across all instances (advisory lock); each
 * step is a batch statement of the module that owns the table, walked until a
 * batch comes back short; safe to interrupt and rerun.
 */
@Injectable()
export class KeyRotationService implements BeforeApplicationShutdown {
  private readonly logger = new Logger(KeyRotationService.name);
  private stopping = false;
  private running?: Promise<unknown>;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly keys: KeyMaintenance,
    private readonly auth: AuthMaintenance,
    private readonly metricEvents: MetricEventsRepository,
    private readonly metricRollups: MetricRollups,
    private readonly lock: AdvisoryLock,
    private readonly clock: Clock,
    private readonly reports: JobReports,
  ) {}

  async run(trigger: 'schedule' | 'operator' = 'operator'): Promise<RotationReport> {
    const now = this.clock.now();
    const started = performance.now();
    const counts = noCounts();
    const report = (skipped: boolean, completed: boolean): RotationReport => ({
      skipped,
      interrupted: !skipped && !completed,
      ranAt: now.toISOString(),
      durationMs: Math.round(performance.now() - started),
      ...counts,
    });
    let outcome: Exclusive<boolean>;
    try {
      outcome = await this.lock.tryRunExclusive(KEY_ROTATION_LOCK, () => {
        const run = this.runJob(now, counts);
        this.running = run;
        return run;
      });
    } catch (error) {
      this.logger.error(
        { trigger, errorName: (error as Error).name, ...report(false, false) },
        'key rotation failed; the next run finishes the work',
      );
      throw error;
    }
    if (!outcome.acquired) {
      this.logger.log({ trigger }, 'key rotation skipped: another instance holds the lock');
      return report(true, false);
    }
    const done = report(false, outcome.result);
    this.logger.log({ trigger, ...done }, 'key rotation finished');
    return done;
  }

  /** One run that holds the lock, measured as the operation `dailyJob` (a skipped run is not one). */
  @Measured('dailyJob')
  async runJob(now: Date, counts: RotationCounts): Promise<boolean> {
    const completed = await this.runSteps(this.steps(now), counts);
    this.reports.report({ job: 'dailyJob', rows: { ...counts }, completed, finishedAt: this.clock.now() });
    return completed;
  }

  /** Lets a run in progress finish its batch, then stop, before the database closes. */
  async beforeApplicationShutdown() {
    this.stopping = true;
    await this.running?.catch(() => undefined);
  }

  private steps(now: Date): Step[] {
    const metricCutoff = new Date(now.getTime() - this.config.metrics.retentionDays * DAY_MS);
    const { keys, auth, metricEvents, metricRollups } = this;
    return [
      ['deprecatedKeys', walk<Date>((after, limit) => keys.deprecateExpiredKeys(now, after, limit))],
      ['deletedKeys', walk<string>((after, limit) => keys.deleteKeysPastRetention(now, after, limit))],
      ['createdMetricPartitions', once(() => metricRollups.ensurePartitionsAhead())],
      ['droppedMetricPartitions', once(() => metricEvents.dropPartitionsBefore(metricCutoff))],
      ['deletedMetrics', walk<Date>((after, limit) => metricEvents.deleteBefore(metricCutoff, after, limit))],
      ['deletedMetricRollups', once(() => metricRollups.deleteExpired(now))],
      ['purgedConsumedCiphertexts', walk<Date>((after, limit) => auth.purgeSpentCiphertexts(now, after, limit))],
      ['purgedKeyGenerations', walk<Date>((after, limit) => keys.purgeKeyGenerations(now, after, limit))],
      ['purgedCallerKeyGenerations', walk<Date>((after, limit) => keys.purgeCallerGenerations(now, after, limit))],
      ['purgedPlaceholderCredentials', walk<Date>((after, limit) => auth.purgePlaceholderCredentials(now, after, limit))],
    ];
  }

  /** In order, each step batch after batch until one comes back short. False when shutdown stopped it. */
  private async runSteps(steps: Step[], counts: RotationCounts): Promise<boolean> {
    const limit = this.config.rotation.batchSize;
    for (const [count, nextBatch] of steps) {
      for (;;) {
        if (this.stopping) return false;
        const changed = await nextBatch(limit);
        counts[count] += changed;
        if (changed < limit) break;
      }
    }
    return true;
  }
}

/** A step done in one go (partitions: no row by row work): its count, then nothing. */
function once(work: () => Promise<number>) {
  let done = false;
  return async () => {
    if (done) return 0;
    done = true;
    return work();
  };
}

/** A step's batches, each starting where the previous one ended. */
function walk<C>(batch: (after: C | null, limit: number) => Promise<Batch<C>>) {
  let after: C | null = null;
  return async (limit: number) => {
    const { changed, cursor } = await batch(after, limit);
    after = cursor;
    return changed;
  };
}

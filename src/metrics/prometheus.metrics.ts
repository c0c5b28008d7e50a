import cluster from 'node:cluster';
import { Injectable, Logger } from '@nestjs/common';
import { performance } from 'node:perf_hooks';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { CHECK_REFUSALS, checkOutcomeOf, CHECKING_OPERATIONS } from '../auth';
import { clusterMetricsSource, ErrorCode } from '../common';
import { GENERATION_REFUSALS, KeyPool, KeysService } from '../keys';
import { JobReport, JobReports, MetricEvent, MetricsRecorder, OperationName } from '../telemetry';

const KEY_GENERATION: OperationName = 'generate';

/** Scrapes closer together than this share one count of the key table. */
export const KEY_STATES_CACHE_MS = 5_000;
const DURATION_BUCKETS_SECONDS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/**
 * The Prometheus view, in registries of this app's own (not prom-client's global
 * one, so several apps can live in one process). Operation counters follow the
 * recorder's events, so they count rows the buffer had to drop as well.
 * Label values are bounded: operation names are code constants, reasons error codes.
 * With several workers, `registry` is this worker's part of the cluster's view (the
 * primary sums the workers'), while `instanceRegistry` holds what describes the whole
 * instance (kms_keys, counted in the database) and is read by the worker that scrapes
 * only, so that it is neither counted once per worker nor summed.
 */
@Injectable()
export class PrometheusMetrics {
  readonly registry = new Registry();
  private readonly instanceRegistry = new Registry();
  private readonly processesView: () => Promise<string> = cluster.isWorker
    ? clusterMetricsSource(this.registry)
    : () => this.registry.metrics();
  private readonly logger = new Logger(PrometheusMetrics.name);

  private readonly operations = new Counter({
    name: 'kms_operations_total',
    help: 'Measured operations by outcome (success | failure).',
    labelNames: ['operation', 'outcome'] as const,
    registers: [this.registry],
  });

  private readonly failures = new Counter({
    name: 'kms_operation_failures_total',
    help: 'Failed operations by error code.',
    labelNames: ['operation', 'reason'] as const,
    registers: [this.registry],
  });

  private readonly durations = new Histogram({
    name: 'kms_operation_duration_seconds',
    help: 'Operation duration (whole milliseconds, as stored in EncryptionMetric).',
    labelNames: ['operation', 'outcome'] as const,
    buckets: DURATION_BUCKETS_SECONDS,
    registers: [this.registry],
  });

  private readonly rateLimited = new Counter({
    name: 'kms_rate_limit_rejections_total',
    help: 'Key generations refused by the per-device rate limit.',
    registers: [this.registry],
  });

  private readonly budgetRefusals = new Counter({
    name: 'kms_key_generation_budget_rejections_total',
    help: 'Key generations refused by a budget: the caller\'s per minute, or the per-request cap.',
    labelNames: ['budget'] as const,
    registers: [this.registry],
  });

  private readonly credentialChecks = new Counter({
    name: 'kms_credential_checks_total',
    help: 'Counted checks of a stored passcode or PIN by outcome (valid | invalid | locked).',
    labelNames: ['operation', 'outcome'] as const,
    registers: [this.registry],
  });

  private readonly lockouts = new Counter({
    name: 'kms_credential_lockouts_total',
    help: 'Wrong passcodes or PINs that locked their credential.',
    labelNames: ['operation'] as const,
    registers: [this.registry],
  });

  private readonly dailyJobRows = new Counter({
    name: 'kms_daily_job_rows_total',
    help: 'Rows the daily job changed, by step (its duration and failures: kms_operation_*{operation="dailyJob"}).',
    labelNames: ['step'] as const,
    registers: [this.registry],
  });

  private readonly dailyJobCompleted = new Gauge({
    name: 'kms_daily_job_last_completed_seconds',
    help: 'Unix time at which the daily job last finished every step (alert when it grows old).',
    registers: [this.registry],
    aggregator: 'max',
  });

  private readonly poolRefills = new Histogram({
    name: 'kms_key_pool_refill_seconds',
    help: 'Time to make and store one key pool pair (background refill, lowest CPU priority).',
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  });

  constructor(
    private readonly recorder: MetricsRecorder,
    private readonly keys: KeysService,
    private readonly pool: KeyPool,
    reports: JobReports,
  ) {
    collectDefaultMetrics({ register: this.registry });
    this.registerRecorderGauges();
    this.registerKeyStates();
    this.registerKeyPool();
    recorder.onEvent((event) => this.observe(event));
    reports.onReport((report) => this.observeJob(report));
  }

  /** The text exposition format: every worker's metrics, then the instance's. */
  async scrape(): Promise<string> {
    const [processes, instance] = await Promise.all([this.processesView(), this.instanceRegistry.metrics()]);
    return processes + instance;
  }

  private observe(event: MetricEvent) {
    const labels = { operation: event.operation, outcome: event.status };
    this.operations.inc(labels);
    this.durations.observe(labels, event.duration / 1000);
    if (CHECKING_OPERATIONS.includes(event.operation)) this.observeCheck(event);
    if (event.status !== 'failure') return;
    this.failures.inc({ operation: event.operation, reason: event.errorReason ?? 'UNKNOWN' });
    if (event.operation === KEY_GENERATION && event.errorReason === ErrorCode.RATE_LIMITED) {
      if (event.errorDetail === GENERATION_REFUSALS.caller) this.budgetRefusals.inc({ budget: 'caller' });
      else if (event.errorDetail === GENERATION_REFUSALS.request) this.budgetRefusals.inc({ budget: 'request' });
      else this.rateLimited.inc();
    }
  }

  private observeJob(report: JobReport) {
    for (const [step, rows] of Object.entries(report.rows)) this.dailyJobRows.inc({ step }, rows);
    if (report.completed) this.dailyJobCompleted.set(report.finishedAt.getTime() / 1000);
  }

  private observeCheck(event: MetricEvent) {
    const outcome = checkOutcomeOf(event.status, event.errorReason);
    if (outcome) this.credentialChecks.inc({ operation: event.operation, outcome });
    if (event.errorReason === CHECK_REFUSALS.lockedOut.code) this.lockouts.inc({ operation: event.operation });
  }

  private registerRecorderGauges() {
    const recorder = this.recorder;
    new Gauge({
      name: 'kms_metric_buffer_rows',
      help: 'Metric rows waiting to be written to EncryptionMetric.',
      registers: [this.registry],
      collect() {
        this.set(recorder.depth);
      },
    });
    this.counterFollowing(
      'kms_metric_rows_dropped_total',
      'Metric rows given up (buffer full, or not writable at shutdown).',
      () => recorder.dropped,
    );
    this.counterFollowing(
      'kms_metric_write_failures_total',
      'Failed batch writes of metric rows (each is retried).',
      () => recorder.writeFailures,
    );
  }

  /** A counter whose value is kept elsewhere, read at scrape time. */
  private counterFollowing(name: string, help: string, read: () => number) {
    new Counter({
      name,
      help,
      registers: [this.registry],
      collect() {
        this.reset();
        this.inc(read());
      },
    });
  }

  /** Claims and misses per worker (summed across workers); the pool's size is the instance's. */
  private registerKeyPool() {
    const pool = this.pool;
    this.counterFollowing('kms_key_pool_claims_total', 'Keys handed out from the key pool.', () => pool.claims);
    this.counterFollowing(
      'kms_key_pool_misses_total',
      'Key generations that found the key pool empty and made their key on request.',
      () => pool.misses,
    );
    pool.onRefill((seconds) => this.poolRefills.observe(seconds));
    const cachedPoolPairs = sharedFor(KEY_STATES_CACHE_MS, () => pool.countPairs());
    this.instanceGauge('kms_key_pool_pairs', 'Key pairs ready in the key pool (every instance shares it).', [], async (gauge) =>
      gauge.set(await cachedPoolPairs()),
    );
  }

  /** Counted in the database at scrape time, at most once per KEY_STATES_CACHE_MS. */
  private registerKeyStates() {
    const cachedKeyStates = sharedFor(KEY_STATES_CACHE_MS, () => this.keys.countByState());
    this.instanceGauge('kms_keys', 'Stored keys by state (past retention: awaiting_deletion).', ['state'], async (gauge) => {
      const counts = await cachedKeyStates();
      gauge.set({ state: 'active' }, counts.active);
      gauge.set({ state: 'deprecated' }, counts.deprecated);
      gauge.set({ state: 'revoked' }, counts.revoked);
      gauge.set({ state: 'awaiting_deletion' }, counts.awaitingDeletion);
    });
  }

  /**
   * A gauge of the whole instance, filled from the database at scrape time. No stale
   * figures: while the database does not answer, its series disappear.
   */
  private instanceGauge<L extends string>(name: string, help: string, labelNames: L[], fill: (gauge: Gauge<L>) => Promise<void>) {
    const logger = this.logger;
    new Gauge<L>({
      name,
      help,
      labelNames,
      registers: [this.instanceRegistry],
      async collect() {
        try {
          await fill(this);
        } catch (error) {
          this.reset();
          logger.warn({ errorName: (error as Error).name, metric: name }, 'instance metric not counted');
        }
      },
    });
  }
}

/** `read`, its answer shared by every call within `ms` of the call that ran it (a failure is not kept). */
function sharedFor<T>(ms: number, read: () => Promise<T>): () => Promise<T> {
  let cached: { at: number; value: Promise<T> } | undefined;
  return () => {
    const now = performance.now();
    if (!cached || now - cached.at >= ms) {
      const value = read();
      value.catch(() => {
        if (cached?.value === value) cached = undefined;
      });
      cached = { at: now, value };
    }
    return cached.value;
  };
}

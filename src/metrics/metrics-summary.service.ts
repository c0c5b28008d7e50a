import { Inject, Injectable } from '@nestjs/common';
import { CHECK_REFUSALS, checkOutcomeOf, CHECKING_OPERATIONS } from '../auth';
import { Clock } from '../common';
import { APP_CONFIG, type AppConfig } from '../config';
import { rate, round, toNumber } from '../database';
import { KeysService } from '../keys';
import {
  addBins,
  Histogram,
  MetricEventsRepository,
  OperationAggregateRow,
  OperationName,
  percentilesMicros,
  WindowProblemKeys,
} from '../telemetry';
import {
  CredentialChecks,
  EncryptionMetricsSummary,
  OperationMetrics,
  OperationTotals,
  ProblematicKeys,
  ReasonCount,
} from './models/encryption-metrics-summary.model';

const HOUR_MS = 60 * 60 * 1000;
const KEY_GENERATION: OperationName = 'generate';
const PERCENTILES = [0.5, 0.95, 0.99];
/** Connections one summary reads its window with (fewer when the pool is small). */
const SNAPSHOT_LANES = 3;
/** Length of the capped lists (busiest devices, rate-limited devices, problem keys). */
export const SUMMARY_LIST_LIMIT = 10;

/** A failure count by operation and error code. */
interface FailureCount {
  operation: string;
  reason: string;
  count: number;
}

/**
 * The operators' summary of EncryptionMetric rows over [now - hours, now]: the rollups
 * of the closed buckets inside the window plus the raw rows of the rest (telemetry's
 * WindowPlan). Counts, rates, failures by reason, devices and problem keys are exact;
 * avg and max are exact to the microsecond; percentiles come from the duration
 * histogram, within PERCENTILE_RELATIVE_ERROR (4.43%) of the exact value.
 */
@Injectable()
export class MetricsSummaryService {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly metricEvents: MetricEventsRepository,
    private readonly keys: KeysService,
    private readonly clock: Clock,
  ) {}

  async summarize(timeframeHours: number): Promise<EncryptionMetricsSummary> {
    const now = this.clock.now();
    const window = { from: new Date(now.getTime() - timeframeHours * HOUR_MS), to: now };
    const { problemKeyMinFailures, problemKeyFailureRate } = this.config.metrics;
    const [{ operationRows, failureRows, devices, problemKeys }, keys] = await Promise.all([
      // Three connections in one snapshot: operations, devices and problem keys at once.
      this.metricEvents.inSnapshot(async ([first, second, third]) => {
        const plan = await first.plan(window);
        const thresholds = { minFailures: problemKeyMinFailures, minRate: problemKeyFailureRate };
        const [operationRows, devices, problemKeys] = await Promise.all([
          first.operations(plan),
          (second ?? first).devices(plan, SUMMARY_LIST_LIMIT),
          (third ?? second ?? first).problemKeys(plan, thresholds, SUMMARY_LIST_LIMIT),
        ]);
        return { operationRows, failureRows: failureCounts(operationRows), devices, problemKeys };
      }, SNAPSHOT_LANES),
      this.keys.countByState(),
    ]);
    const operations = toOperations(operationRows, failureRows);
    const generate = operations.find((entry) => entry.operation === KEY_GENERATION);
    const keyGeneration = totalsOf(generate ? [generate] : []);
    return {
      window: { ...window, hours: timeframeHours },
      totals: totalsOf(operations),
      operations,
      failuresByReason: byReason(failureRows),
      keyGeneration: {
        ...keyGeneration,
        failureRate: rate(keyGeneration.failures, keyGeneration.total),
      },
      devices,
      credentialChecks: toCredentialChecks(operations),
      problematicKeys: toProblemKeys(problemKeys, problemKeyMinFailures, problemKeyFailureRate),
      keys,
    };
  }
}

/** Failures by operation and error code (a failure without one: UNKNOWN). */
function failureCounts(rows: OperationAggregateRow[]): FailureCount[] {
  return rows
    .filter((row) => row.status === 'failure')
    .map((row) => ({ operation: row.operation, reason: row.errorReason ?? 'UNKNOWN', count: toNumber(row.count) }));
}

/** Merges the rows of each operation (rollups and raw parts), by name in C order. */
function toOperations(rows: OperationAggregateRow[], failures: FailureCount[]): OperationMetrics[] {
  const merged = new Map<
    string,
    { total: number; successes: number; sumMicros: number; minMicros: number; maxMicros: number; histogram: Histogram }
  >();
  for (const row of rows) {
    const entry = merged.get(row.operation) ?? {
      total: 0, successes: 0, sumMicros: 0, minMicros: Infinity, maxMicros: 0, histogram: new Map(),
    };
    const count = toNumber(row.count);
    entry.total += count;
    if (row.status === 'success') entry.successes += count;
    entry.sumMicros += toNumber(row.sumMicros);
    entry.minMicros = Math.min(entry.minMicros, toNumber(row.minMicros));
    entry.maxMicros = Math.max(entry.maxMicros, toNumber(row.maxMicros));
    addBins(entry.histogram, row.bins.map(Number), row.counts.map(toNumber));
    merged.set(row.operation, entry);
  }
  return [...merged]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([operation, entry]) => {
      const inRange = (micros: number) => Math.min(entry.maxMicros, Math.max(entry.minMicros, micros));
      const [p50, p95, p99] = percentilesMicros(entry.histogram, PERCENTILES).map((micros) => round(inRange(micros) / 1000, 2));
      return {
        operation,
        total: entry.total,
        successes: entry.successes,
        failures: entry.total - entry.successes,
        successRate: rate(entry.successes, entry.total),
        durationMs: {
          avg: round(entry.sumMicros / entry.total / 1000, 2),
          p50,
          p95,
          p99,
          max: round(entry.maxMicros / 1000, 3),
        },
        failuresByReason: byReason(failures.filter((failure) => failure.operation === operation)),
      };
    });
}

/** From each checking operation's successes and failure reasons. */
function toCredentialChecks(operations: OperationMetrics[]): CredentialChecks[] {
  return operations
    .filter((entry) => CHECKING_OPERATIONS.includes(entry.operation as OperationName))
    .map((entry) => {
      const checks: CredentialChecks = { operation: entry.operation, valid: entry.successes, invalid: 0, locked: 0, lockouts: 0 };
      for (const { reason, count } of entry.failuresByReason) {
        const outcome = checkOutcomeOf('failure', reason);
        if (outcome === 'invalid') checks.invalid += count;
        if (outcome === 'locked') checks.locked += count;
        if (reason === CHECK_REFUSALS.lockedOut.code) checks.lockouts += count;
      }
      return checks;
    });
}

function totalsOf(operations: OperationTotals[]): OperationTotals {
  const sum = (pick: (entry: OperationTotals) => number) =>
    operations.reduce((total, entry) => total + pick(entry), 0);
  const total = sum((entry) => entry.total);
  const successes = sum((entry) => entry.successes);
  return { total, successes, failures: sum((entry) => entry.failures), successRate: rate(successes, total) };
}

/** Summed over the rows given; most frequent first, then by name. */
function byReason(rows: FailureCount[]): ReasonCount[] {
  const counts = new Map<string, number>();
  for (const row of rows) counts.set(row.reason, (counts.get(row.reason) ?? 0) + row.count);
  return [...counts]
    .map(([reason, count]) => ({ reason, count }))
    .sort((a, b) => b.count - a.count || (a.reason < b.reason ? -1 : 1));
}

function toProblemKeys(found: WindowProblemKeys, minFailures: number, minFailureRate: number): ProblematicKeys {
  return {
    minFailures,
    minFailureRate,
    count: found.count,
    keys: found.keys.map((key) => ({ ...key, failureRate: rate(key.failures, key.operations) ?? 0 })),
  };
}

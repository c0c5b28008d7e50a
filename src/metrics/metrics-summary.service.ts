import { Inject, Injectable } from '@nestjs/common';
import { CHECK_REFUSALS, checkOutcomeOf, CHECKING_OPERATIONS } from '../auth';
import { Clock, ErrorCode } from '../common';
import { APP_CONFIG, type AppConfig } from '../config';
import { rate, round, toNumber } from '../database';
import { KeysService } from '../keys';
import {
  DeviceRow,
  FailureRow,
  MetricEventsRepository,
  OperationName,
  OperationRow,
  ProblemKeyRow,
} from '../telemetry';
import {
  CredentialChecks,
  DeviceMetrics,
  EncryptionMetricsSummary,
  OperationMetrics,
  OperationTotals,
  ProblematicKeys,
  ReasonCount,
} from './models/encryption-metrics-summary.model';

const HOUR_MS = 60 * 60 * 1000;
/** A user's wrong or locked secret: not a failure of the device key it was encrypted with. */
const NOT_KEY_FAILURES = [CHECK_REFUSALS.invalid.code, CHECK_REFUSALS.lockedOut.code, ErrorCode.CREDENTIAL_LOCKED];
const KEY_GENERATION: OperationName = 'generate';
/** Length of the capped lists (busiest devices, rate-limited devices, problem keys). */
export const SUMMARY_LIST_LIMIT = 10;

/** The operators' summary of EncryptionMetric rows over [now - hours, now]. */
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
    const [{ operationRows, failureRows, deviceRow, problemRows }, keys] = await Promise.all([
      this.metricEvents.inSnapshot(async (reads) => ({
        operationRows: await reads.operations(window),
        failureRows: await reads.failures(window),
        deviceRow: await reads.devices(window, SUMMARY_LIST_LIMIT),
        problemRows: await reads.problemKeys(
          window,
          { minFailures: problemKeyMinFailures, minRate: problemKeyFailureRate },
          SUMMARY_LIST_LIMIT,
          NOT_KEY_FAILURES,
        ),
      })),
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
      devices: toDevices(deviceRow),
      credentialChecks: toCredentialChecks(operations),
      problematicKeys: toProblemKeys(problemRows, problemKeyMinFailures, problemKeyFailureRate),
      keys,
    };
  }
}

function toOperations(rows: OperationRow[], failures: FailureRow[]): OperationMetrics[] {
  return rows.map((row) => {
    const total = toNumber(row.total);
    const successes = toNumber(row.successes);
    const [p50, p95, p99] = row.percentiles.map((value) => round(value, 2));
    return {
      operation: row.operation,
      total,
      successes,
      failures: toNumber(row.failures),
      successRate: rate(successes, total),
      durationMs: { avg: round(toNumber(row.avg), 2), p50, p95, p99, max: toNumber(row.max) },
      failuresByReason: byReason(failures.filter((failure) => failure.operation === row.operation)),
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
function byReason(rows: FailureRow[]): ReasonCount[] {
  const counts = new Map<string, number>();
  for (const row of rows) counts.set(row.reason, (counts.get(row.reason) ?? 0) + toNumber(row.count));
  return [...counts]
    .map(([reason, count]) => ({ reason, count }))
    .sort((a, b) => b.count - a.count || (a.reason < b.reason ? -1 : 1));
}

function toDevices(row: DeviceRow): DeviceMetrics {
  return {
    active: toNumber(row.active),
    top: row.top.map((device) => ({
      deviceId: device.deviceId,
      operations: toNumber(device.operations),
      failures: toNumber(device.failures),
    })),
    rateLimitedCount: toNumber(row.rateLimitedCount),
    rateLimited: row.rateLimited.map((device) => ({
      deviceId: device.deviceId,
      rejections: toNumber(device.rejections),
      lastRejectedAt: new Date(device.lastRejectedAt),
    })),
  };
}

function toProblemKeys(rows: ProblemKeyRow[], minFailures: number, minFailureRate: number): ProblematicKeys {
  return {
    minFailures,
    minFailureRate,
    count: rows.length > 0 ? toNumber(rows[0].matching) : 0,
    keys: rows.map((row) => {
      const operations = toNumber(row.operations);
      const failures = toNumber(row.failures);
      return { keyId: row.keyId, operations, failures, failureRate: rate(failures, operations) ?? 0 };
    }),
  };
}

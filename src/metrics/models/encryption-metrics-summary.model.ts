import { Field, Float, Int, ObjectType } from '@nestjs/graphql';

/**
 * The metrics summary, typed. getEncryptionMetricsSummary returns the same object
 * as JSON (dates as ISO strings); README "Metrics" documents it. Rates are 0..1
 * rounded to 4 decimals, null when nothing was counted; durations are milliseconds.
 */
@ObjectType()
export class MetricsWindow {
  @Field({ description: 'Window start (now - hours), included.' })
  from!: Date;

  @Field({ description: "Window end: the service's now, included." })
  to!: Date;

  @Field(() => Int)
  hours!: number;
}

@ObjectType()
export class ReasonCount {
  @Field({ description: 'Error code of the failure (docs/contract.md, error codes).' })
  reason!: string;

  @Field(() => Int)
  count!: number;
}

@ObjectType({
  description:
    'Milliseconds at microsecond resolution. avg and max are exact; percentiles are continuous ' +
    '(linear interpolation) over a log-scale histogram (8 bins per doubling), within 4.43% of the exact value.',
})
export class DurationStats {
  @Field(() => Float)
  avg!: number;

  @Field(() => Float)
  p50!: number;

  @Field(() => Float)
  p95!: number;

  @Field(() => Float)
  p99!: number;

  @Field(() => Float)
  max!: number;
}

@ObjectType()
export class OperationTotals {
  @Field(() => Int)
  total!: number;

  @Field(() => Int)
  successes!: number;

  @Field(() => Int)
  failures!: number;

  @Field(() => Float, { nullable: true })
  successRate!: number | null;
}

@ObjectType()
export class OperationMetrics extends OperationTotals {
  @Field()
  operation!: string;

  @Field(() => DurationStats, { description: 'Over every row of the operation, success or failure.' })
  durationMs!: DurationStats;

  @Field(() => [ReasonCount])
  failuresByReason!: ReasonCount[];
}

@ObjectType()
export class KeyGenerationMetrics extends OperationTotals {
  @Field(() => Float, { nullable: true })
  failureRate!: number | null;
}

@ObjectType()
export class DeviceActivity {
  @Field()
  deviceId!: string;

  @Field(() => Int)
  operations!: number;

  @Field(() => Int)
  failures!: number;
}

@ObjectType()
export class RateLimitedDevice {
  @Field()
  deviceId!: string;

  @Field(() => Int, { description: 'generate failures with RATE_LIMITED in the window.' })
  rejections!: number;

  @Field()
  lastRejectedAt!: Date;
}

@ObjectType()
export class DeviceMetrics {
  @Field(() => Int, { description: 'Distinct devices with at least one operation in the window.' })
  active!: number;

  @Field(() => [DeviceActivity], { description: 'Busiest devices, most operations first.' })
  top!: DeviceActivity[];

  @Field(() => Int)
  rateLimitedCount!: number;

  @Field(() => [RateLimitedDevice], { description: 'Most rejections first.' })
  rateLimited!: RateLimitedDevice[];
}

@ObjectType()
export class ProblematicKey {
  @Field()
  keyId!: string;

  @Field(() => Int)
  operations!: number;

  @Field(() => Int)
  failures!: number;

  @Field(() => Float)
  failureRate!: number;
}

@ObjectType()
export class ProblematicKeys {
  @Field(() => Int, { description: 'METRICS_PROBLEM_KEY_MIN_FAILURES' })
  minFailures!: number;

  @Field(() => Float, { description: 'METRICS_PROBLEM_KEY_FAILURE_RATE' })
  minFailureRate!: number;

  @Field(() => Int, { description: 'Keys passing both thresholds (the list is capped).' })
  count!: number;

  @Field(() => [ProblematicKey], { description: 'Most failures first.' })
  keys!: ProblematicKey[];
}

@ObjectType({
  description:
    'Counted checks of a stored passcode or PIN (verify and change operations) by outcome: brute force shows as invalid and locked.',
})
export class CredentialChecks {
  @Field()
  operation!: string;

  @Field(() => Int, { description: 'The secret checked out.' })
  valid!: number;

  @Field(() => Int, { description: 'Wrong secret (metric reasons CREDENTIAL_INVALID and CREDENTIAL_LOCKED_OUT).' })
  invalid!: number;

  @Field(() => Int, { description: 'Refused unchecked while locked (CREDENTIAL_LOCKED).' })
  locked!: number;

  @Field(() => Int, { description: 'Wrong secrets that started a lock-out (CREDENTIAL_LOCKED_OUT).' })
  lockouts!: number;
}

@ObjectType({ description: "Stored keys by state at the service's now." })
export class KeyStateCounts {
  @Field(() => Int)
  active!: number;

  @Field(() => Int, { description: 'Marked deprecated, or expired whether marked or not.' })
  deprecated!: number;

  @Field(() => Int)
  revoked!: number;

  @Field(() => Int, { description: 'Past retention: deleted for clients, row not yet removed by the daily job.' })
  awaitingDeletion!: number;
}

@ObjectType()
export class EncryptionMetricsSummary {
  @Field(() => MetricsWindow)
  window!: MetricsWindow;

  @Field(() => OperationTotals, { description: 'All operations together.' })
  totals!: OperationTotals;

  @Field(() => [OperationMetrics], { description: 'By operation name.' })
  operations!: OperationMetrics[];

  @Field(() => [ReasonCount], { description: 'All operations; most frequent first.' })
  failuresByReason!: ReasonCount[];

  @Field(() => KeyGenerationMetrics)
  keyGeneration!: KeyGenerationMetrics;

  @Field(() => DeviceMetrics)
  devices!: DeviceMetrics;

  @Field(() => [CredentialChecks], { description: 'Checking operations that ran in the window.' })
  credentialChecks!: CredentialChecks[];

  @Field(() => ProblematicKeys)
  problematicKeys!: ProblematicKeys;

  @Field(() => KeyStateCounts)
  keys!: KeyStateCounts;
}

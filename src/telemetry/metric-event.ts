import { ErrorCode } from '../common';
import type { OperationName } from './operations';

export type MetricStatus = 'success' | 'failure';

/** One measured operation, as stored in EncryptionMetric. */
export interface MetricEvent {
  operation: OperationName;
  status: MetricStatus;
  keyId?: string | null;
  deviceId?: string | null;
  /** The error code (docs/contract.md, error codes) of a failure. */
  errorReason?: string | null;
  /** The internal reason of a failure, finer than the code (see KmsError.reason). */
  errorDetail?: string | null;
  /** Whole milliseconds (the seed's field). */
  duration: number;
  /** Microseconds, when measured finer (the recorder does); else read as duration * 1000. */
  durationMicros?: number | null;
  timestamp: Date;
}

/** What an operation learns about itself as it runs (the key is known only after lookup). */
export interface MetricTags {
  keyId?: string | null;
  deviceId?: string | null;
  /**
   * An answer that is not an error on the wire but a refusal operators must see (a
   * wrong passcode): the operation returns normally and its row is a failure with
   * this code and reason. Codes here are metric-only (docs: README, Metrics).
   */
  refusal?: MetricRefusal;
}

export interface MetricRefusal {
  code: string;
  reason: string;
}

/**
 * Failure reasons that are about the user, not the device key used: a wrong passcode or
 * PIN (metric-only reasons, see MetricTags.refusal) and a check refused while locked.
 * They never count as a key's failures (problematic keys).
 */
export const CREDENTIAL_CHECK_REASONS = {
  invalid: 'CREDENTIAL_INVALID',
  lockedOut: 'CREDENTIAL_LOCKED_OUT',
  locked: ErrorCode.CREDENTIAL_LOCKED,
} as const;
export const NOT_KEY_FAILURE_REASONS: readonly string[] = Object.values(CREDENTIAL_CHECK_REASONS);

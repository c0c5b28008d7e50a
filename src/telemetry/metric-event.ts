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
  /** Milliseconds. */
  duration: number;
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

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
}

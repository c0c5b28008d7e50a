export type MetricStatus = 'success' | 'failure';

/** One measured operation, as stored in EncryptionMetric. */
export interface MetricEvent {
  operation: string;
  status: MetricStatus;
  keyId?: string | null;
  deviceId?: string | null;
  errorReason?: string | null;
  /** Milliseconds. */
  duration: number;
  timestamp: Date;
}

/** Tags a measured operation learns as it goes (the key is known only after lookup). */
export interface MetricTags {
  keyId?: string | null;
  deviceId?: string | null;
}

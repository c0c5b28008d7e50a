/** What one run of the daily job did; returned by runKeyRotation and logged. */
export interface RotationCounts {
  deprecatedKeys: number;
  deletedKeys: number;
  /** Raw metric rows outside the day partitions (default partition) past retention, deleted by batch. */
  deletedMetrics: number;
  /** Whole day partitions of raw metric rows past retention, dropped. */
  droppedMetricPartitions: number;
  /** Day partitions made ahead (today and the next 7 days). */
  createdMetricPartitions: number;
  /** Rollup rows past METRICS_ROLLUP_RETENTION_DAYS. */
  deletedMetricRollups: number;
  purgedConsumedCiphertexts: number;
  purgedKeyGenerations: number;
  purgedCallerKeyGenerations: number;
  /** Rows of unknown users (no passcode, no PIN) whose attempts are past a lock-out window. */
  purgedPlaceholderCredentials: number;
}

export interface RotationReport extends RotationCounts {
  /** Another instance held the lock: this one did nothing. */
  skipped: boolean;
  /** Stopped between batches for shutdown; the next run finishes the work. */
  interrupted: boolean;
  /** The clock's time the run judged every row against. */
  ranAt: string;
  durationMs: number;
}

export const noCounts = (): RotationCounts => ({
  deprecatedKeys: 0,
  deletedKeys: 0,
  deletedMetrics: 0,
  droppedMetricPartitions: 0,
  createdMetricPartitions: 0,
  deletedMetricRollups: 0,
  purgedConsumedCiphertexts: 0,
  purgedKeyGenerations: 0,
  purgedCallerKeyGenerations: 0,
  purgedPlaceholderCredentials: 0,
});

/**
 * Telemetry, the layer under every feature: the operation names, the @Measured
 * decorator and tagOperation(), the recorder that batches metric events, and the
 * EncryptionMetric table it writes (day partitions, retention, the rollups the report
 * reads, and the reads themselves).
 * Imports no feature.
 */
export { JobReport, JobReports } from './job-reports';
export { Measured, tagOperation } from './measured';
export {
  CREDENTIAL_CHECK_REASONS,
  MetricEvent,
  MetricRefusal,
  MetricStatus,
  MetricTags,
  NOT_KEY_FAILURE_REASONS,
} from './metric-event';
export { DEVICE_COUNT_STANDARD_ERROR } from './device-sketch';
export { addBins, Histogram, PERCENTILE_RELATIVE_ERROR, percentilesMicros } from './duration-histogram';
export {
  MetricEventsRepository,
  MetricsReads,
  MetricWindow,
  WindowDevices,
} from './metric-events.repository';
export { MergedProblemKeys as WindowProblemKeys } from './window-merge';
export { OperationAggregateRow } from './rollup-bucket-cache';
export { MetricRollups, RollupRun } from './metric-rollups';
export { MetricsRecorder } from './metrics.recorder';
export { OPERATIONS, OperationName } from './operations';
export { TelemetryModule } from './telemetry.module';

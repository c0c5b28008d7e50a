/**
 * Telemetry, the layer under every feature: the operation names, the @Measured
 * decorator and tagOperation(), the recorder that batches metric events, and the
 * EncryptionMetric table it writes (its retention and its reads for the report).
 * Imports no feature.
 */
export { JobReport, JobReports } from './job-reports';
export { Measured, tagOperation } from './measured';
export { MetricEvent, MetricRefusal, MetricStatus, MetricTags } from './metric-event';
export {
  DeviceRow,
  FailureRow,
  MetricEventsRepository,
  MetricsReads,
  MetricWindow,
  OperationRow,
  ProblemKeyRow,
} from './metric-events.repository';
export { MetricsRecorder } from './metrics.recorder';
export { OPERATIONS, OperationName } from './operations';
export { TelemetryModule } from './telemetry.module';

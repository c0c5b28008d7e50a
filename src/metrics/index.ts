/**
 * The metrics report: getEncryptionMetricsSummary / encryptionMetricsSummary and
 * GET /metrics (Prometheus). Reads telemetry and keys through their public surfaces.
 */
export { MetricsModule } from './metrics.module';

import { Module } from '@nestjs/common';
import { KeysModule } from '../keys';
import { MetricsResolver } from './metrics.resolver';
import { MetricsSummaryService } from './metrics-summary.service';
import { PrometheusController } from './prometheus.controller';
import { PrometheusMetrics } from './prometheus.metrics';

/**
 * The operators' report, on top of everything: the summary (GraphQL, from the
 * telemetry module's EncryptionMetric reads and the keys module's counts) and
 * GET /metrics in Prometheus format. Owns no table.
 */
@Module({
  imports: [KeysModule],
  controllers: [PrometheusController],
  providers: [MetricsSummaryService, MetricsResolver, PrometheusMetrics],
})
export class MetricsModule {}

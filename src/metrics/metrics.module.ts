import { Global, Module } from '@nestjs/common';
import { MetricsRecorder } from './metrics.recorder';
import { MetricsRepository } from './metrics.repository';
import { MetricsResolver } from './metrics.resolver';
import { MetricsSummaryService } from './metrics-summary.service';
import { PrometheusController } from './prometheus.controller';
import { PrometheusMetrics } from './prometheus.metrics';

/** Global so that every module can measure its operations with MetricsRecorder. */
@Global()
@Module({
  controllers: [PrometheusController],
  providers: [
    MetricsRecorder,
    MetricsRepository,
    MetricsSummaryService,
    MetricsResolver,
    PrometheusMetrics,
  ],
  exports: [MetricsRecorder],
})
export class MetricsModule {}

import { Global, Module } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { JobReports } from './job-reports';
import { MeasuredOperations } from './measured-operations';
import { MetricEventsRepository } from './metric-events.repository';
import { MetricRollups } from './metric-rollups';
import { MetricsRecorder } from './metrics.recorder';

/** Global: every feature measures its operations (@Measured) into this recorder. */
@Global()
@Module({
  imports: [DiscoveryModule],
  providers: [MetricEventsRepository, MetricsRecorder, MeasuredOperations, JobReports, MetricRollups],
  exports: [MetricEventsRepository, MetricsRecorder, JobReports, MetricRollups],
})
export class TelemetryModule {}

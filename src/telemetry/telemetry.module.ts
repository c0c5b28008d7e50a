import { Global, Module } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { MeasuredOperations } from './measured-operations';
import { MetricEventsRepository } from './metric-events.repository';
import { MetricsRecorder } from './metrics.recorder';

/** Global: every feature measures its operations (@Measured) into this recorder. */
@Global()
@Module({
  imports: [DiscoveryModule],
  providers: [MetricEventsRepository, MetricsRecorder, MeasuredOperations],
  exports: [MetricEventsRepository, MetricsRecorder],
})
export class TelemetryModule {}

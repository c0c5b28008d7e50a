import { Global, Module } from '@nestjs/common';
import { MetricsRecorder } from './metrics.recorder';
import { MetricsRepository } from './metrics.repository';

@Global()
@Module({
  providers: [MetricsRecorder, MetricsRepository],
  exports: [MetricsRecorder],
})
export class MetricsModule {}

import { Logger, Module } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '../../config';
import { loadPepperRing, PepperRing } from './pepper-ring';

/** The pepper ring, loaded once per application (modules that need it import this module). */
@Module({
  providers: [
    {
      provide: PepperRing,
      inject: [APP_CONFIG],
      useFactory: (config: AppConfig) => loadPepperRing(config, (message) => new Logger('AuthPepper').warn(message)),
    },
  ],
  exports: [PepperRing],
})
export class SecretsModule {}

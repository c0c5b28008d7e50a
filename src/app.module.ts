import { DynamicModule, Module } from '@nestjs/common';
import { APP_FILTER, APP_PIPE } from '@nestjs/core';
import { ApolloDriver, ApolloDriverConfig } from '@nestjs/apollo';
import { GraphQLModule } from '@nestjs/graphql';
import { ScheduleModule } from '@nestjs/schedule';
import { LoggerModule } from 'nestjs-pino';
import { AccessControlModule } from './access-control';
import { AuthModule } from './auth';
import {
  CommonModule,
  GraphqlHttpErrorFilter,
  createLogger,
  graphqlOptions,
  InputValidationPipe,
  REQUEST_LOGGER,
} from './common';
import { type AppConfig, ConfigModule } from './config';
import { DatabaseModule } from './database';
import { EncryptionModule } from './encryption';
import { HealthModule } from './health';
import { KeyRotationModule } from './key-rotation';
import { KeysModule } from './keys';
import { MetricsModule } from './metrics';
import { TelemetryModule } from './telemetry';
import { DevPagesModule, explorerLandingPage } from './web';

/**
 * The whole service. Layers, bottom up (the import check in .dependency-cruiser.cjs
 * holds them): config; common; database; telemetry; access-control and keys;
 * encryption; auth; key-rotation, metrics and health; cli; web; this module and main.
 */
@Module({})
export class AppModule {
  /** The whole service for one validated configuration (whose database URL is resolved). */
  static forRoot(config: AppConfig): DynamicModule {
    // One logger for Nest's lines and each request's line (app.factory.ts writes the
    // latter from a Fastify hook): nestjs-pino's per-request middleware stays off.
    const logger = createLogger(config);
    return {
      module: AppModule,
      imports: [
        ConfigModule.forRoot(config),
        LoggerModule.forRoot({ pinoHttp: { logger }, forRoutes: [] }),
        CommonModule,
        DatabaseModule,
        TelemetryModule,
        GraphQLModule.forRoot<ApolloDriverConfig>({
          driver: ApolloDriver,
          ...graphqlOptions(config, { landingPage: config.isProduction ? undefined : explorerLandingPage() }),
        }),
        ScheduleModule.forRoot(),
        HealthModule,
        AccessControlModule,
        KeysModule,
        EncryptionModule,
        AuthModule,
        KeyRotationModule,
        MetricsModule,
        // The demo page and the explorer's files: never in production.
        ...(config.isProduction ? [] : [DevPagesModule]),
      ],
      providers: [
        {
          provide: APP_PIPE,
          useValue: new InputValidationPipe(),
        },
        { provide: APP_FILTER, useClass: GraphqlHttpErrorFilter },
        { provide: REQUEST_LOGGER, useValue: logger },
      ],
    };
  }
}

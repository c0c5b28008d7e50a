import {
  DynamicModule,
  Inject,
  MiddlewareConsumer,
  Module,
  NestModule,
  RequestMethod,
  ValidationPipe,
} from '@nestjs/common';
import { APP_FILTER, APP_PIPE } from '@nestjs/core';
import { ApolloDriver, ApolloDriverConfig } from '@nestjs/apollo';
import { GraphQLModule } from '@nestjs/graphql';
import { ScheduleModule } from '@nestjs/schedule';
import { LoggerModule, type Params } from 'nestjs-pino';
import { ApiKeysModule } from './api-keys/api-keys.module';
import type { AppConfig } from './config/app-config';
import { AuthModule } from './auth/auth.module';
import { APP_CONFIG, ConfigModule } from './config/config.module';
import { CommonModule } from './common/common.module';
import { GraphqlHttpErrorFilter } from './common/errors/http-error.filter';
import { batchLimitMiddleware } from './common/graphql/graphql-limits';
import { graphqlOptions } from './common/graphql/graphql-options';
import { httpLoggerOptions, logDestination } from './common/logging/logger-options';
import { DatabaseModule } from './database/database.module';
import { EncryptionModule } from './encryption/encryption.module';
import { HealthModule } from './health/health.module';
import { KeyRotationModule } from './key-rotation/key-rotation.module';
import { MetricsModule } from './metrics/metrics.module';

function loggerArgs(config: AppConfig): Params['pinoHttp'] {
  const destination = logDestination(config);
  return destination ? [httpLoggerOptions(config), destination] : httpLoggerOptions(config);
}

@Module({})
export class AppModule implements NestModule {
  constructor(@Inject(APP_CONFIG) private readonly config: AppConfig) {}

  /** The whole service for one validated configuration (whose database URL is resolved). */
  static forRoot(config: AppConfig): DynamicModule {
    return {
      module: AppModule,
      imports: [
        ConfigModule.forRoot(config),
        LoggerModule.forRoot({ pinoHttp: loggerArgs(config) }),
        CommonModule,
        DatabaseModule,
        GraphQLModule.forRoot<ApolloDriverConfig>({ driver: ApolloDriver, ...graphqlOptions(config) }),
        ScheduleModule.forRoot(),
        HealthModule,
        MetricsModule,
        ApiKeysModule,
        EncryptionModule,
        AuthModule,
        KeyRotationModule,
      ],
      providers: [
        {
          provide: APP_PIPE,
          useValue: new ValidationPipe({ whitelist: true, forbidNonWhitelisted: true }),
        },
        { provide: APP_FILTER, useClass: GraphqlHttpErrorFilter },
      ],
    };
  }

  configure(consumer: MiddlewareConsumer) {
    consumer
      .apply(batchLimitMiddleware(this.config))
      .forRoutes({ path: 'graphql', method: RequestMethod.POST });
  }
}

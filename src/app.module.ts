import { DynamicModule, Module, ValidationPipe } from '@nestjs/common';
import { APP_PIPE } from '@nestjs/core';
import { ApolloDriver, ApolloDriverConfig } from '@nestjs/apollo';
import { GraphQLModule } from '@nestjs/graphql';
import { ScheduleModule } from '@nestjs/schedule';
import { LoggerModule, type Params } from 'nestjs-pino';
import type { AppConfig } from './config/app-config';
import { ConfigModule } from './config/config.module';
import { CommonModule } from './common/common.module';
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
export class AppModule {
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
        EncryptionModule,
        KeyRotationModule,
      ],
      providers: [
        {
          provide: APP_PIPE,
          useValue: new ValidationPipe({ whitelist: true, forbidNonWhitelisted: true }),
        },
      ],
    };
  }
}

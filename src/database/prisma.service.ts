import { Inject, Injectable, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { PrismaPg } from '@prisma/adapter-pg';
import { APP_CONFIG, type AppConfig } from '../config';
import { PrismaClient } from '../generated/prisma/client';
import { connectionOptions } from './connection-options';

/** The one Prisma client of the process, over node-postgres (no native query engine). */
@Injectable()
export class PrismaService extends PrismaClient implements OnModuleInit, OnApplicationShutdown {
  constructor(@Inject(APP_CONFIG) config: AppConfig) {
    if (!config.database.url) throw new Error('PrismaService needs a resolved database URL');
    // The pool's size comes from the instance's connection budget (connectionBudget in config).
    super({ adapter: new PrismaPg({ ...connectionOptions(config), max: config.database.poolSize }) });
  }

  async onModuleInit() {
    await this.$connect();
  }

  /** Last of the shutdown hooks, so that buffered writes (metrics) can still flush before it. */
  async onApplicationShutdown() {
    await this.$disconnect();
  }
}

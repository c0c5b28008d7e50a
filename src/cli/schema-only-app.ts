import 'reflect-metadata';
import type { INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { httpAdapter } from '../app.factory';
import { AppModule } from '../app.module';
import { loadEnvironmentConfig } from '../config';

/**
 * The whole application, initialised but connected to no database (nothing here runs a
 * query), for commands that read what the code declares: the schema, the scopes.
 * Configured like every command (the environment over .env), with fixed settings that
 * need no database and no secret.
 */
export async function withSchemaOnlyApp<T>(work: (app: INestApplicationContext) => Promise<T>): Promise<T> {
  const config = loadEnvironmentConfig({
    NODE_ENV: 'test',
    LOG_LEVEL: 'silent',
    DATABASE_URL: 'postgresql://schema-only@127.0.0.1:1/none',
    KMS_MASTER_KEYS: `schema:${Buffer.alloc(32).toString('base64')}`,
    AUTH_PEPPER: 'schema-only-pepper-not-a-secret-xxxxxxxx',
  });
  const app = await NestFactory.create(AppModule.forRoot(config), httpAdapter(config), { logger: false });
  try {
    await app.init();
    return await work(app);
  } finally {
    await app.close();
  }
}

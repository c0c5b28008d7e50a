import 'reflect-metadata';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { NestFactory } from '@nestjs/core';
import { GraphQLSchemaHost } from '@nestjs/graphql';
import { printSchema } from 'graphql';
import { AppModule } from '../app.module';
import { loadEnvironmentConfig } from '../config';
import { runCli } from './cli-database';

/**
 * `npm run -s schema:update [-- <file>]`: writes schema.graphql from the code (the resolvers and
 * models), the file reviewers read and outside clients generate code from. The
 * schema test fails while the two differ. Builds the app without connecting to
 * any database: nothing here runs a query.
 */
runCli(async () => {
  // Read like every command's (the environment over .env), with fixed settings that need no database.
  const config = loadEnvironmentConfig({
    NODE_ENV: 'test',
    LOG_LEVEL: 'silent',
    DATABASE_URL: 'postgresql://schema-only@127.0.0.1:1/none',
    KMS_MASTER_KEYS: `schema:${Buffer.alloc(32).toString('base64')}`,
    AUTH_PEPPER: 'schema-only-pepper-not-a-secret-xxxxxxxx',
  });
  const app = await NestFactory.create(AppModule.forRoot(config), { logger: false });
  try {
    await app.init();
    const printed = `${printSchema(app.get(GraphQLSchemaHost).schema)}\n`;
    const out = process.argv[2] ?? join(__dirname, '../../schema.graphql');
    writeFileSync(out, printed);
    process.stdout.write(`${out} written\n`);
  } finally {
    await app.close();
  }
});

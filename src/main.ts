import 'reflect-metadata';
import type { INestApplication } from '@nestjs/common';
import type pino from 'pino';
import { createApp } from './app.factory';
import { createLogger } from './common';
import { AppConfig, ConfigError, loadEnvironmentConfig } from './config';
import {
  applyMigrations,
  assertDatabaseReachable,
  describeDatabaseUrl,
  EmbeddedDatabase,
  startEmbeddedPostgres,
} from './database';

/**
 * Start-up order: configuration, database (embedded unless DATABASE_URL is set),
 * migrations, then HTTP. Any failure prints one line and exits non-zero.
 */
async function main() {
  const config = loadConfigOrExit();
  const log = createLogger(config, 'bootstrap');
  if (!config.isProduction && (!config.masterKeys || !config.auth.peppers)) {
    log.warn(
      { dataDir: config.database.dataDir },
      `development mode (NODE_ENV=${config.env}): the master key ring and the pepper not set are generated once` +
        ` and kept in ${config.database.dataDir} (master-key.dev, auth-pepper.dev); production requires KMS_MASTER_KEYS and AUTH_PEPPER`,
    );
  }
  let embedded: EmbeddedDatabase | undefined;
  try {
    if (!config.database.url) {
      log.info({ dataDir: config.database.dataDir }, 'no DATABASE_URL: starting embedded PostgreSQL');
      embedded = await startEmbeddedPostgres({
        dataDir: config.database.dataDir,
        port: config.database.embeddedPort,
        onNotice: (message) => log.warn(message),
      });
    }
    const url = config.database.url ?? embedded!.url;
    await assertDatabaseReachable(url);
    const applied = await applyMigrations(url);
    log.info({ database: describeDatabaseUrl(url), applied }, 'database ready');

    const app = await createApp({ ...config, database: { ...config.database, url } });
    await app.listen(config.http.port, config.http.host);
    const { port } = app.getHttpServer().address() as { port: number };
    log.info({ port, url: `http://localhost:${port}/graphql` }, 'serving GraphQL');
    stopOnSignals(app, embedded, config, log);
  } catch (error) {
    process.stderr.write(`kms: start-up failed: ${(error as Error).message ?? String(error)}\n`);
    await embedded?.stop().catch(() => undefined);
    process.exit(1);
  }
}

function loadConfigOrExit(): AppConfig {
  try {
    // A .env file in the working directory fills in what the environment does not set.
    return loadEnvironmentConfig();
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`kms: ${error.message}\n`);
    process.exit(1);
  }
}

/** Closes the app (which flushes buffered metrics) before the embedded database stops. */
function stopOnSignals(
  app: INestApplication,
  embedded: EmbeddedDatabase | undefined,
  config: AppConfig,
  log: pino.Logger,
) {
  let stopping = false;
  const stop = async (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down');
    setTimeout(() => {
      process.stderr.write('kms: shutdown timed out\n');
      process.exit(1);
    }, config.http.shutdownTimeoutMs).unref();
    let code = 0;
    try {
      await app.close();
    } catch (error) {
      log.error({ errorName: (error as Error)?.name }, 'shutdown failed');
      code = 1;
    }
    await embedded?.stop().catch(() => (code = 1));
    log.info({ code }, 'stopped');
    log.flush();
    process.exit(code);
  };
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, (s) => void stop(s));
}

void main();

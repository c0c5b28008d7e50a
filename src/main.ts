import 'reflect-metadata';
import cluster from 'node:cluster';
import { availableParallelism } from 'node:os';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import type pino from 'pino';
import type * as AppFactory from './app.factory';
import { exitIfStillRunningAfter, runPrimary, threadPoolSize, workerEnvironment } from './cluster';
import { createLogger, logDestination } from './common';
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
 * migrations, then HTTP: in this process when WEB_CONCURRENCY=1, otherwise in
 * WEB_CONCURRENCY worker processes (cluster.ts) while this one keeps the database.
 * Any failure prints one line and exits non-zero.
 */
async function main() {
  const config = loadConfigOrExit();
  if (cluster.isWorker) return serveInWorker(config);
  const clustered = config.workers > 1;
  // Serving here: size libuv's pool before its first use (it reads this once, then).
  if (!clustered) process.env.UV_THREADPOOL_SIZE ||= String(threadPoolSize(availableParallelism(), 1));
  // The primary forwards its workers' lines: it writes its own through the same stream.
  const log = createLogger(config, 'bootstrap', clustered && config.log.format === 'json' && !config.log.file ? process.stdout : logDestination(config));
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

    if (clustered) {
      runPrimary({ config, log, env: workerEnvironment(config, url, availableParallelism()), stopDatabase: () => embedded?.stop() });
      return;
    }
    const app = await appFactory().createApp({ ...config, database: { ...config.database, url } });
    await app.listen(config.http.port, config.http.host);
    const { port } = app.getHttpServer().address() as { port: number };
    log.info({ workers: 1, port, url: `http://localhost:${port}/graphql` }, 'serving GraphQL');
    stopOnSignals(app, config, log, () => embedded?.stop());
  } catch (error) {
    process.stderr.write(`kms: start-up failed: ${(error as Error).message ?? String(error)}\n`);
    await embedded?.stop().catch(() => undefined);
    process.exit(1);
  }
}

/** The Nest application, loaded only where it serves (the cluster primary does without it). */
function appFactory(): typeof AppFactory {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require('./app.factory') as typeof AppFactory;
}

/** A cluster worker: the primary has migrated the database and passed its URL. */
async function serveInWorker(config: AppConfig) {
  const log = createLogger(config, 'worker');
  try {
    const app = await appFactory().createApp(config);
    await app.listen(config.http.port, config.http.host);
    const { port } = app.getHttpServer().address() as { port: number };
    process.send!({ type: 'kms:listening', port });
    stopOnSignals(app, config, log);
  } catch (error) {
    process.stderr.write(`kms: worker start-up failed: ${(error as Error).message ?? String(error)}\n`);
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

/**
 * SIGTERM or SIGINT (or, in a worker, the primary's request): drain HTTP, flush
 * buffered metrics and key-usage counts, disconnect, then stop the embedded database
 * if this process started it.
 */
function stopOnSignals(
  app: NestFastifyApplication,
  config: AppConfig,
  log: pino.Logger,
  stopDatabase?: () => Promise<void> | undefined,
) {
  let stopping = false;
  const stop = async (reason: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal: reason }, 'shutting down');
    exitIfStillRunningAfter(config.http.shutdownTimeoutMs);
    let code = 0;
    try {
      await appFactory().closeGracefully(app, config);
    } catch (error) {
      log.error({ errorName: (error as Error)?.name }, 'shutdown failed');
      code = 1;
    }
    await stopDatabase?.()?.catch(() => (code = 1));
    log.info({ code }, 'stopped');
    log.flush();
    process.exit(code);
  };
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, (s) => void stop(s));
  process.on('message', (message: { type?: string }) => {
    if (message?.type === 'kms:shutdown') void stop('primary');
  });
}

void main();

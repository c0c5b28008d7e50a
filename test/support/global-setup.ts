import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEmbeddedPostgres } from '../../src/database';
import { applyMigrations } from '../../src/database';
import { databaseUrl, onServer } from './test-server';

/**
 * One PostgreSQL for the whole run: the server in TEST_DATABASE_URL, or an
 * embedded one in a temporary directory. Migrations are applied once to a
 * template database; every test file clones it (CREATE DATABASE ... TEMPLATE),
 * so runs and files never see each other's rows.
 */
export default async function globalSetup() {
  // Projects that need a database (repo, e2e) each name this setup: the first one sets up for all.
  const shared = globalThis as { kmsTestSetups?: number };
  shared.kmsTestSetups = (shared.kmsTestSetups ?? 0) + 1;
  if (shared.kmsTestSetups > 1) return;
  const runId = `${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
  let serverUrl = process.env.TEST_DATABASE_URL;
  if (!serverUrl) {
    const dataDir = join(tmpdir(), `kms-test-${runId}`);
    const embedded = await startEmbeddedPostgres({ dataDir, database: 'postgres' });
    Object.assign(globalThis, { kmsTestEmbedded: { ...embedded, dataDir } });
    serverUrl = embedded.url;
  }
  const template = `kms_tpl_${runId}`;
  await onServer(serverUrl, (client) => client.query(`CREATE DATABASE "${template}"`));
  await applyMigrations(databaseUrl(serverUrl, template));

  process.env.KMS_TEST_SERVER_URL = serverUrl;
  process.env.KMS_TEST_TEMPLATE = template;
  process.env.KMS_TEST_RUN_ID = runId;
  process.env.KMS_TEST_LOG_DIR = join(tmpdir(), `kms-test-logs-${runId}`);
}

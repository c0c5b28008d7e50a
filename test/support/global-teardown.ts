import { rm } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { scanLogs } from './secrets-ledger';
import { onServer } from './test-server';

/**
 * Drops every database this run made, stops the embedded server if we started one,
 * then scans every service log line of the run for secrets (a leak fails the run).
 */
export default async function globalTeardown() {
  // The last project to finish tears down what the first one set up.
  const shared = globalThis as { kmsTestSetups?: number };
  shared.kmsTestSetups = (shared.kmsTestSetups ?? 1) - 1;
  if (shared.kmsTestSetups > 0) return;
  const serverUrl = process.env.KMS_TEST_SERVER_URL;
  const runId = process.env.KMS_TEST_RUN_ID;
  if (serverUrl && runId) {
    await onServer(serverUrl, async (client) => {
      const { rows } = await client.query<{ datname: string }>(
        `SELECT datname FROM pg_database WHERE datname LIKE $1 OR datname LIKE $2`,
        [`kms_t_${runId}_%`, `kms_tpl_${runId}`],
      );
      for (const { datname } of rows) {
        await client.query(`DROP DATABASE IF EXISTS "${datname}" WITH (FORCE)`);
      }
    });
  }
  const embedded = (globalThis as { kmsTestEmbedded?: { stop(): Promise<void>; dataDir: string } })
    .kmsTestEmbedded;
  if (embedded) {
    await embedded.stop();
    await rm(embedded.dataDir, { recursive: true, force: true });
  }
  const logDir = process.env.KMS_TEST_LOG_DIR;
  if (logDir && existsSync(logDir)) {
    const { filesScanned, linesScanned, leaks } = scanLogs(logDir);
    if (leaks.length > 0) {
      throw new Error(
        `service logs of this run contain secrets (${leaks.length} lines; logs kept in ${logDir}):\n` +
          leaks.slice(0, 20).map((leak) => `  ${leak.file}:${leak.line}: ${leak.what}`).join('\n'),
      );
    }
    process.stdout.write(`\nlog scan: ${linesScanned} lines in ${filesScanned} files, no secrets\n`);
    if (process.env.KEEP_TEST_LOGS !== "1") await rm(logDir, { recursive: true, force: true });
  }
}

import { rm } from 'node:fs/promises';
import { onServer } from './test-server';

/** Drops every database this run made, then stops the embedded server if we started one. */
export default async function globalTeardown() {
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
}

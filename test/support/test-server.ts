import { Client } from 'pg';

/** Set by global-setup for the workers: where test databases are made. */
export function testServer() {
  const serverUrl = process.env.KMS_TEST_SERVER_URL;
  const template = process.env.KMS_TEST_TEMPLATE;
  const runId = process.env.KMS_TEST_RUN_ID;
  if (!serverUrl || !template || !runId) throw new Error('global-setup did not run');
  return { serverUrl, template, runId, logDir: process.env.KMS_TEST_LOG_DIR! };
}

/** The same server, another database. */
export function databaseUrl(serverUrl: string, database: string): string {
  const url = new URL(serverUrl);
  url.pathname = `/${database}`;
  return url.toString();
}

export async function onServer<T>(serverUrl: string, work: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: serverUrl });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

import { randomBytes } from 'node:crypto';
import { databaseUrl, onServer, testServer } from './test-server';

export interface TestDatabase {
  name: string;
  url: string;
  drop(): Promise<void>;
}

/** A fresh, migrated database of its own (a clone of the run's template). */
export async function createTestDatabase(): Promise<TestDatabase> {
  const { serverUrl, template, runId } = testServer();
  const name = `kms_t_${runId}_${randomBytes(4).toString('hex')}`;
  await onServer(serverUrl, (client) =>
    client.query(`CREATE DATABASE "${name}" TEMPLATE "${template}"`),
  );
  return {
    name,
    url: databaseUrl(serverUrl, name),
    drop: () =>
      onServer(serverUrl, (client) => client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`))
        .then(() => undefined),
  };
}

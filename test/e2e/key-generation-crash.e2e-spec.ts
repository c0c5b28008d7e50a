import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { lockKeyInserts, until, untilKeyInsertWaits } from '../support/key-insert-lock';
import { errorCode, GENERATE_KEY, generateKey, newDeviceId } from '../support/operations';
import { startServiceProcess } from '../support/service-process';
import { startTestApp } from '../support/test-app';
import { createTestDatabase, TestDatabase } from '../support/test-database';

/**
 * generateEncryptionKey counts the device's generation (KeyGeneration) and stores its
 * key (ClientEncryptionKey) in one transaction. The test freezes that transaction
 * between the two: it holds a SHARE lock on ClientEncryptionKey, so the service's
 * insert of the key waits, after its ledger row is written. Then the service is
 * killed (SIGKILL). Its transaction never commits: the device keeps all five generations.
 */
describe('a service killed while it stores a new key', () => {
  let database: TestDatabase;
  let dataDir: string;
  let sql: Client;

  beforeAll(async () => {
    database = await createTestDatabase();
    dataDir = await mkdtemp(join(tmpdir(), 'kms-crash-'));
    sql = new Client({ connectionString: database.url });
    await sql.connect();
  });
  afterAll(async () => {
    await sql.end();
    await database.drop();
    await rm(dataDir, { recursive: true, force: true });
  });

  const count = async (query: string, values: unknown[] = []) => Number((await sql.query(query, values)).rows[0].count);
  const otherSessions = () =>
    count(`SELECT count(*) FROM pg_stat_activity
            WHERE datname = current_database() AND backend_type = 'client backend' AND pid <> pg_backend_pid()`);

  it.each([
    ['made on request (no pool)', { KEY_POOL_SIZE: '0' }],
    ['claimed from the key pool', { KEY_POOL_SIZE: '2', KEY_POOL_REFILL_BELOW: '2', KEY_POOL_REFILL_NICE: '0' }],
  ])('burns none of the device generations: key %s', async (_case, poolEnv) => {
    const service = startServiceProcess({
      DATABASE_URL: database.url,
      PORT: '0',
      DATA_DIR: dataDir,
      WEB_CONCURRENCY: '1',
      KMS_MASTER_KEYS: `crash:${randomBytes(32).toString('base64')}`,
      ...poolEnv,
    });
    const deviceId = newDeviceId('killed');
    let pairsBefore = 0;
    try {
      const port = await service.serving;
      if (poolEnv.KEY_POOL_SIZE !== '0') {
        await until('a full pool', async () => (await count('SELECT count(*) FROM "KeyPoolPair"')) >= 2);
        pairsBefore = await count('SELECT count(*) FROM "KeyPoolPair"');
      }
      await lockKeyInserts(sql);
      const request = fetch(`http://127.0.0.1:${port}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ query: GENERATE_KEY, variables: { input: { deviceId } } }),
      }).catch(() => 'no answer');
      // The service's insert waits for our lock: its ledger row is written, uncommitted.
      await untilKeyInsertWaits(sql);
      service.child.kill('SIGKILL');
      await service.exited;
      expect(await request).toBe('no answer');
    } finally {
      service.child.kill('SIGKILL');
      await sql.query('ROLLBACK');
    }
    // Its session ends when it next reads from the dead connection (the COMMIT never comes).
    await until('the killed service sessions gone', async () => (await otherSessions()) === 0);
    expect(await count('SELECT count(*) FROM "KeyGeneration" WHERE "deviceId" = $1', [deviceId])).toBe(0);
    expect(await count('SELECT count(*) FROM "ClientEncryptionKey" WHERE "deviceId" = $1', [deviceId])).toBe(0);
    // A pair it had claimed is back in the pool.
    expect(await count('SELECT count(*) FROM "KeyPoolPair"')).toBe(pairsBefore);

    const t = await startTestApp({ database });
    try {
      for (let i = 0; i < 5; i += 1) await generateKey(t, deviceId);
      expect(errorCode(await t.gql(GENERATE_KEY, { input: { deviceId } }))).toBe('RATE_LIMITED');
    } finally {
      await t.close();
    }
  });
});

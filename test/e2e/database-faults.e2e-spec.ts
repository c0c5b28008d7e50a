import { Client } from 'pg';
import { errorCode, GENERATE_KEY, newDeviceId } from '../support/operations';
import { startTestApp, TestApp } from '../support/test-app';

describe('a database that stops answering', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ env: { DATABASE_STATEMENT_TIMEOUT_MS: '500' } });
  });
  afterAll(() => t.close());

  it('fails the request with INTERNAL after DATABASE_STATEMENT_TIMEOUT_MS instead of hanging, storing nothing', async () => {
    const deviceId = newDeviceId('stuck');
    // Another session holds the device's rate-limit lock and never lets go.
    const blocker = new Client({ connectionString: t.database.url });
    await blocker.connect();
    try {
      await blocker.query('BEGIN');
      await blocker.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [`kms:keygen:${deviceId}`]);
      const started = Date.now();
      const response = await t.gql(GENERATE_KEY, { input: { deviceId } });
      expect(errorCode(response)).toBe('INTERNAL');
      expect(Date.now() - started).toBeLessThan(10_000);
      expect(JSON.stringify(response)).not.toMatch(/statement timeout|advisory|SELECT/i);
    } finally {
      await blocker.query('ROLLBACK');
      await blocker.end();
    }
    expect(await t.prisma.clientEncryptionKey.count({ where: { deviceId } })).toBe(0);
    expect((await t.gql(GENERATE_KEY, { input: { deviceId } })).errors).toBeUndefined();
  });
});

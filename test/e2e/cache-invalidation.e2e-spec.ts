import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { DatabaseNotifications } from '../../src/database';
import { encryptWithWebCrypto } from '../support/clients';
import { decrypt, encrypt, errorCode, generateKey, newDeviceId } from '../support/operations';
import { startTestApp, TestApp } from '../support/test-app';
import { createTestDatabase, TestDatabase } from '../support/test-database';
import { onServer } from '../support/test-server';

const CREATE_API_KEY = 'mutation($input: CreateApiKeyInput!) { createApiKey(input: $input) { id key } }';
const REVOKE_API_KEY = 'mutation($id: ID!) { revokeApiKey(id: $id) }';
const REVOKE_DEVICE_KEY = 'mutation($keyId: ID!) { revokeEncryptionKey(keyId: $keyId, reason: "test") { status } }';
const ROTATE_DEVICE_KEY = 'mutation($deviceId: String!) { rotateDeviceKey(deviceId: $deviceId) { keyId } }';

/** Milliseconds until `refused()` holds, polling every 10 ms; fails after `limitMs`. */
async function msUntil(refused: () => Promise<boolean>, limitMs = 3_000): Promise<number> {
  const started = performance.now();
  while (!(await refused())) {
    if (performance.now() - started > limitMs) throw new Error(`still accepted after ${limitMs} ms`);
    await sleep(10);
  }
  return performance.now() - started;
}

/** Writes without firing triggers: a change whose notification is lost. */
async function silently(database: TestDatabase, statement: string, params: unknown[]) {
  await onServer(database.url, async (client) => {
    await client.query('SET session_replication_role = replica');
    await client.query(statement, params);
  });
}

/** Ends the LISTEN connections of the apps on this database, as a network fault or a restart would. */
async function killNotificationConnections(database: TestDatabase): Promise<number> {
  return onServer(database.url, async (client) => {
    const { rowCount } = await client.query(
      `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND application_name = 'kms-listen'`,
      [database.name],
    );
    return rowCount ?? 0;
  });
}

describe('caches of API keys and key rows, across instances', () => {
  let database: TestDatabase;
  let a: TestApp;
  let b: TestApp;
  beforeAll(async () => {
    database = await createTestDatabase();
    a = await startTestApp({ database });
    b = await startTestApp({ database });
  });
  afterAll(async () => {
    await b?.close();
    await a?.close();
    await database.drop();
  });

  const newServiceKey = async () => {
    const created = await a.gql(CREATE_API_KEY, { input: { name: `svc-${Date.now()}`, scopes: ['service'] } }, a.as('admin'));
    return created.data!.createApiKey as { id: string; key: string };
  };
  const decryptOn = async (t: TestApp, apiKey: string, keyId: string, publicKey: string) =>
    decrypt(t, { keyId, encryptedData: await encryptWithWebCrypto(publicKey, 'cached?') }, { authorization: `Bearer ${apiKey}` });

  it('an API key revoked on one instance is refused by the other within 1 s', async () => {
    const { id, key } = await newServiceKey();
    const device = await generateKey(a, newDeviceId());
    for (let i = 0; i < 3; i += 1) expect((await decryptOn(b, key, device.keyId, device.publicKey)).errors).toBeUndefined();

    const revoked = await a.gql(REVOKE_API_KEY, { id }, a.as('admin'));
    expect(revoked.data).toEqual({ revokeApiKey: true });
    // The revoking instance refuses at once, the other as soon as the notification lands.
    expect(errorCode(await decryptOn(a, key, device.keyId, device.publicKey))).toBe('UNAUTHENTICATED');
    const elapsed = await msUntil(async () => errorCode(await decryptOn(b, key, device.keyId, device.publicKey)) === 'UNAUTHENTICATED');
    expect(elapsed).toBeLessThan(1_000);
  });

  it('a device key revoked on one instance no longer decrypts on the other within 1 s', async () => {
    const device = await generateKey(a, newDeviceId());
    const serviceKey = b.as('service').authorization.slice('Bearer '.length);
    expect((await decryptOn(b, serviceKey, device.keyId, device.publicKey)).errors).toBeUndefined();

    await a.gql(REVOKE_DEVICE_KEY, { keyId: device.keyId }, a.as('admin'));
    const elapsed = await msUntil(async () => errorCode(await decryptOn(b, serviceKey, device.keyId, device.publicKey)) === 'KEY_REVOKED');
    expect(elapsed).toBeLessThan(1_000);
  });

  it('a device key rotated on one instance no longer encrypts on the other within 1 s', async () => {
    const device = await generateKey(a, newDeviceId());
    expect((await encrypt(b, { keyId: device.keyId, data: 'x' })).errors).toBeUndefined();

    await a.gql(ROTATE_DEVICE_KEY, { deviceId: device.deviceId }, a.as('admin'));
    const elapsed = await msUntil(async () => errorCode(await encrypt(b, { keyId: device.keyId, data: 'x' })) === 'KEY_EXPIRED');
    expect(elapsed).toBeLessThan(1_000);
  });

  it('a device key deleted by another writer is gone on both instances within 1 s', async () => {
    const device = await generateKey(a, newDeviceId());
    expect((await encrypt(b, { keyId: device.keyId, data: 'x' })).errors).toBeUndefined();
    expect((await encrypt(a, { keyId: device.keyId, data: 'x' })).errors).toBeUndefined();

    await onServer(database.url, (client) => client.query('DELETE FROM "ClientEncryptionKey" WHERE id = $1', [device.keyId]));
    for (const t of [a, b]) {
      const elapsed = await msUntil(async () => errorCode(await encrypt(t, { keyId: device.keyId, data: 'x' })) === 'KEY_NOT_FOUND');
      expect(elapsed).toBeLessThan(1_000);
    }
  });

  it('flushes everything when the notification connection drops: a change it missed is seen within 1 s', async () => {
    // A long maximum age, so that only the flush can make the change visible in time.
    const c = await startTestApp({ database, env: { CACHE_MAX_AGE_MS: '60000' } });
    try {
      const { id, key } = await newServiceKey();
      const device = await generateKey(a, newDeviceId());
      for (let i = 0; i < 3; i += 1) expect((await decryptOn(c, key, device.keyId, device.publicKey)).errors).toBeUndefined();

      // Revoked without a notification: c keeps serving its cached copy ...
      await silently(database, 'UPDATE "ApiKey" SET "revokedAt" = now() WHERE id = $1', [id]);
      await sleep(200);
      expect((await decryptOn(c, key, device.keyId, device.publicKey)).errors).toBeUndefined();
      // ... until its notification connection is killed: then it forgets what it cached.
      expect(await killNotificationConnections(database)).toBeGreaterThanOrEqual(3);
      const elapsed = await msUntil(async () => errorCode(await decryptOn(c, key, device.keyId, device.publicKey)) === 'UNAUTHENTICATED');
      expect(elapsed).toBeLessThan(1_000);

      // Back to normal: the connection is made again and notifications flow.
      await msUntil(async () => c.app.get(DatabaseNotifications).isListening);
      const other = await newServiceKey();
      expect((await decryptOn(c, other.key, device.keyId, device.publicKey)).errors).toBeUndefined();
      await a.gql(REVOKE_API_KEY, { id: other.id }, a.as('admin'));
      expect(await msUntil(async () => errorCode(await decryptOn(c, other.key, device.keyId, device.publicKey)) === 'UNAUTHENTICATED')).toBeLessThan(1_000);
    } finally {
      await c.close();
    }
  });

  it('serves a row from memory no longer than CACHE_MAX_AGE_MS when a notification is lost', async () => {
    const c = await startTestApp({ database, env: { CACHE_MAX_AGE_MS: '400' } });
    try {
      const device = await generateKey(a, newDeviceId());
      expect((await encrypt(c, { keyId: device.keyId, data: 'x' })).errors).toBeUndefined();
      await silently(database, 'UPDATE "ClientEncryptionKey" SET "revokedAt" = now() WHERE id = $1', [device.keyId]);
      // Cached: still accepted right after the silent change (the cache is real) ...
      expect((await encrypt(c, { keyId: device.keyId, data: 'x' })).errors).toBeUndefined();
      // ... and refused once the entry has aged out.
      const elapsed = await msUntil(async () => errorCode(await encrypt(c, { keyId: device.keyId, data: 'x' })) === 'KEY_REVOKED');
      expect(elapsed).toBeLessThan(1_000);
    } finally {
      await c.close();
    }
  });

  it('reads the database on every request with CACHE_MAX_AGE_MS=0', async () => {
    const c = await startTestApp({ database, env: { CACHE_MAX_AGE_MS: '0' } });
    try {
      const device = await generateKey(a, newDeviceId());
      expect((await encrypt(c, { keyId: device.keyId, data: 'x' })).errors).toBeUndefined();
      await silently(database, 'UPDATE "ClientEncryptionKey" SET "revokedAt" = now() WHERE id = $1', [device.keyId]);
      expect(errorCode(await encrypt(c, { keyId: device.keyId, data: 'x' }))).toBe('KEY_REVOKED');
    } finally {
      await c.close();
    }
  });
});

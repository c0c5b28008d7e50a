import { createPrivateKey, createPublicKey } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MasterKeyRing } from '../../src/keys';
import { encryptWithWebCrypto } from '../support/clients';
import {
  ACTIVE_KEY,
  decrypt,
  ENCRYPTION_KEY,
  errorCode,
  GENERATE_KEY,
  generateKey,
  newDeviceId,
} from '../support/operations';
import { startTestApp, TestApp } from '../support/test-app';
import { createTestDatabase } from '../support/test-database';

const DAY_MS = 24 * 60 * 60 * 1000;

describe('device keys (generateEncryptionKey, encryptionKey, activeEncryptionKey)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(() => t.close());

  it('generates an RSA-2048 key with e = 65537, as PEM and as a JWK labelled for RSA-OAEP-256', async () => {
    const deviceId = newDeviceId();
    const key = await generateKey(t, deviceId, '1.2.3');

    expect(key).toMatchObject({ deviceId, appVersion: '1.2.3', algorithm: 'RSA-OAEP-256', status: 'ACTIVE' });
    expect(key.publicKey).toMatch(/^-----BEGIN PUBLIC KEY-----\n[\s\S]+\n-----END PUBLIC KEY-----\n?$/);
    const publicKey = createPublicKey(key.publicKey);
    expect(publicKey.asymmetricKeyType).toBe('rsa');
    expect(publicKey.asymmetricKeyDetails).toMatchObject({ modulusLength: 2048, publicExponent: 65537n });
    expect(key.publicKeyJwk).toEqual({
      kty: 'RSA',
      n: publicKey.export({ format: 'jwk' }).n,
      e: 'AQAB',
      kid: key.keyId,
      alg: 'RSA-OAEP-256',
      use: 'enc',
    });
    expect(new Date(key.expiresAt).getTime() - new Date(key.createdAt).getTime()).toBe(30 * DAY_MS);
    expect(new Date(key.createdAt).getTime()).toBe(t.clock.now().getTime());
  });

  it('makes each new key the active key of its device and serves keys by id', async () => {
    const deviceId = newDeviceId();
    const first = await generateKey(t, deviceId);
    t.clock.advanceMs(1000);
    const second = await generateKey(t, deviceId);

    const active = await t.gql(ACTIVE_KEY, { deviceId });
    expect(active.data!.activeEncryptionKey.keyId).toBe(second.keyId);
    const byId = await t.gql(ENCRYPTION_KEY, { keyId: first.keyId });
    expect(byId.data!.encryptionKey).toEqual(first);
  });

  it('answers null for unknown keys and devices', async () => {
    expect((await t.gql(ENCRYPTION_KEY, { keyId: 'no-such-key' })).data).toEqual({ encryptionKey: null });
    expect((await t.gql(ACTIVE_KEY, { deviceId: newDeviceId() })).data).toEqual({ activeEncryptionKey: null });
  });

  it.each([
    ['an empty deviceId', { deviceId: '' }],
    ['a deviceId of 129 characters', { deviceId: 'd'.repeat(129) }],
    ['a deviceId with a control character', { deviceId: 'dev\u0000ice' }],
    ['a deviceId with surrounding spaces', { deviceId: ' device ' }],
    ['an appVersion of 65 characters', { deviceId: 'ok-device', appVersion: 'v'.repeat(65) }],
  ])('refuses %s with BAD_USER_INPUT and stores nothing', async (_, input) => {
    const keysBefore = await t.prisma.clientEncryptionKey.count();
    const generationsBefore = await t.prisma.keyGeneration.count();
    const response = await t.gql(GENERATE_KEY, { input });
    expect(errorCode(response)).toBe('BAD_USER_INPUT');
    expect(response.data).toBeNull();
    expect(await t.prisma.clientEncryptionKey.count()).toBe(keysBefore);
    expect(await t.prisma.keyGeneration.count()).toBe(generationsBefore);
  });

  it('accepts the longest valid deviceId and appVersion', async () => {
    const key = await generateKey(t, `d${'x'.repeat(126)}d`, 'v'.repeat(64));
    expect(key.deviceId).toHaveLength(128);
  });
});

describe('private keys at rest', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(() => t.close());

  it('stores the private key only wrapped: no PEM, no DER, bound to the newest master key', async () => {
    const key = await generateKey(t, newDeviceId());
    const [row] = await t.prisma.$queryRaw<{ privateKey: string }[]>`
      SELECT "privateKey" FROM "ClientEncryptionKey" WHERE id = ${key.keyId}`;

    expect(row.privateKey).toMatch(/^kms1\.test1\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
    expect(row.privateKey).not.toMatch(/PRIVATE KEY|BEGIN/);
    // The DER of an RSA PKCS#8 key starts with this sequence; its base64 must not appear either.
    expect(Buffer.from(row.privateKey).toString('latin1')).not.toContain('MIIE');
    const ring = t.app.get(MasterKeyRing);
    const der = ring.unwrap(key.keyId, row.privateKey);
    const publicFromPrivate = createPublicKey(createPrivateKey({ key: der, format: 'der', type: 'pkcs8' }));
    expect(publicFromPrivate.export({ format: 'jwk' }).n).toBe(key.publicKeyJwk.n);
  });

  it('does not decrypt with a wrapped key moved to another row id', async () => {
    const key = await generateKey(t, newDeviceId());
    const stored = await t.prisma.clientEncryptionKey.findUniqueOrThrow({ where: { id: key.keyId } });
    const movedId = `${key.keyId}-moved`;
    await t.prisma.clientEncryptionKey.create({ data: { ...stored, id: movedId } });

    const ciphertext = await encryptWithWebCrypto(key.publicKey, 'moved');
    const onOriginal = await decrypt(t, { keyId: key.keyId, encryptedData: ciphertext });
    expect(onOriginal.data?.decryptData.data).toBe('moved');
    const onMoved = await decrypt(t, { keyId: movedId, encryptedData: ciphertext });
    expect(errorCode(onMoved)).toBe('INTERNAL');
    expect(JSON.stringify(onMoved)).not.toMatch(/authenticate|unwrap|master|aes/i);
    expect(() => t.app.get(MasterKeyRing).unwrap(movedId, stored.privateKey)).toThrow();
  });
});

describe('the development master key (no KMS_MASTER_KEYS)', () => {
  it('is created once under DATA_DIR, readable only by the service, and reused by the next start', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'kms-devkey-'));
    const database = await createTestDatabase();
    const env = { KMS_MASTER_KEYS: '', DATA_DIR: dataDir };
    try {
      const first = await startTestApp({ database, env });
      const key = await generateKey(first, newDeviceId());
      await first.close();
      const file = join(dataDir, 'master-key.dev');
      expect(statSync(file).mode & 0o777).toBe(0o600);
      expect(readFileSync(file, 'utf8')).toMatch(/^dev:[A-Za-z0-9+/]{43}=$/);

      const second = await startTestApp({ database, env });
      try {
        const ciphertext = await encryptWithWebCrypto(key.publicKey, 'survives a restart');
        const response = await decrypt(second, { keyId: key.keyId, encryptedData: ciphertext }, second.as('service'));
        expect(response.data?.decryptData.data).toBe('survives a restart');
      } finally {
        await second.close();
      }
    } finally {
      await database.drop();
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});

describe('rate limit on key generation', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(() => t.close());

  const fire = (app: TestApp, deviceId: string, count: number) =>
    Array.from({ length: count }, () => app.gql(GENERATE_KEY, { input: { deviceId } }));

  it('lets exactly 5 of 20 simultaneous calls for a new device through', async () => {
    const deviceId = newDeviceId('burst');
    const responses = await Promise.all(fire(t, deviceId, 20));

    const granted = responses.filter((response) => !response.errors);
    const limited = responses.filter((response) => errorCode(response) === 'RATE_LIMITED');
    expect(granted).toHaveLength(5);
    expect(limited).toHaveLength(15);
    for (const response of limited) {
      const retryAfter = response.errors![0].extensions.retryAfterSeconds;
      expect(Number.isInteger(retryAfter)).toBe(true);
      expect(retryAfter).toBeGreaterThan(0);
      expect(retryAfter).toBeLessThanOrEqual(24 * 60 * 60);
    }
    expect(await t.prisma.clientEncryptionKey.count({ where: { deviceId } })).toBe(5);
  });

  it('says when the oldest generation in the window frees up, and frees it then', async () => {
    const deviceId = newDeviceId('window');
    await Promise.all(fire(t, deviceId, 5));
    t.clock.advanceMs(60 * 60 * 1000);

    const refused = await t.gql(GENERATE_KEY, { input: { deviceId } });
    expect(errorCode(refused)).toBe('RATE_LIMITED');
    expect(refused.errors![0].extensions.retryAfterSeconds).toBe(23 * 60 * 60);

    t.clock.advanceMs(23 * 60 * 60 * 1000 - 1000);
    expect(errorCode(await t.gql(GENERATE_KEY, { input: { deviceId } }))).toBe('RATE_LIMITED');
    t.clock.advanceMs(1000);
    expect((await t.gql(GENERATE_KEY, { input: { deviceId } })).errors).toBeUndefined();
  });

  it('counts per device: one device at its limit does not hold back another', async () => {
    const busy = newDeviceId('busy');
    await Promise.all(fire(t, busy, 6));
    expect((await t.gql(GENERATE_KEY, { input: { deviceId: newDeviceId('other') } })).errors).toBeUndefined();
  });

  it('holds across two service instances on one database', async () => {
    const database = await createTestDatabase();
    const [a, b] = await Promise.all([startTestApp({ database }), startTestApp({ database })]);
    try {
      const deviceId = newDeviceId('replicas');
      const responses = await Promise.all([...fire(a, deviceId, 10), ...fire(b, deviceId, 10)]);
      expect(responses.filter((response) => !response.errors)).toHaveLength(5);
      expect(responses.filter((response) => errorCode(response) === 'RATE_LIMITED')).toHaveLength(15);
      expect(await a.prisma.clientEncryptionKey.count({ where: { deviceId } })).toBe(5);
    } finally {
      await Promise.all([a.close(), b.close()]);
      await database.drop();
    }
  });

  it('follows MAX_KEY_GEN_PER_DEVICE and KEY_GEN_WINDOW_HOURS', async () => {
    const custom = await startTestApp({ env: { MAX_KEY_GEN_PER_DEVICE: '2', KEY_GEN_WINDOW_HOURS: '1' } });
    try {
      const deviceId = newDeviceId('custom');
      const responses = await Promise.all(fire(custom, deviceId, 4));
      expect(responses.filter((response) => !response.errors)).toHaveLength(2);
      const retryAfter = responses.find((r) => r.errors)!.errors![0].extensions.retryAfterSeconds;
      expect(retryAfter).toBe(3600);
    } finally {
      await custom.close();
    }
  });
});

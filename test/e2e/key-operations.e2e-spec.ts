import { PrivateKeyCache } from '../../src/keys/crypto/private-key-cache';
import { MetricsRecorder } from '../../src/telemetry';
import { encryptWithWebCrypto } from '../support/clients';
import { REVOKE_KEY, ROTATE_DEVICE_KEY, runJob } from '../support/key-rotation';
import {
  ACTIVE_KEY,
  decrypt,
  encrypt,
  ENCRYPTION_KEY,
  errorCode,
  GENERATE_KEY,
  generateKey,
  newDeviceId,
} from '../support/operations';
import { startTestApp, TestApp } from '../support/test-app';

const DAY_MS = 24 * 60 * 60 * 1000;

describe('operator mutations: rotateDeviceKey and revokeEncryptionKey', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(() => t.close());

  const rotate = (deviceId: string) => t.gql(ROTATE_DEVICE_KEY, { deviceId }, t.as('admin'));
  const revoke = (keyId: string, reason: string) => t.gql(REVOKE_KEY, { keyId, reason }, t.as('admin'));
  const encryptWith = (keyId: string) => encrypt(t, { keyId, data: 'x' });
  const statusOf = async (keyId: string) => (await t.gql(ENCRYPTION_KEY, { keyId })).data!.encryptionKey?.status ?? null;
  const activeOf = async (deviceId: string) => (await t.gql(ACTIVE_KEY, { deviceId })).data!.activeEncryptionKey?.keyId ?? null;
  const row = (id: string) => t.prisma.clientEncryptionKey.findUnique({ where: { id } });
  const counts = async (deviceId: string) => ({
    keys: await t.prisma.clientEncryptionKey.count({ where: { deviceId } }),
    ledger: await t.prisma.keyGeneration.count({ where: { deviceId } }),
  });
  async function metricRows(operation: string, where: { keyId?: string; deviceId?: string }) {
    await t.app.get(MetricsRecorder).flush();
    return t.prisma.encryptionMetric.findMany({
      where: { operation, ...where },
      select: { status: true, errorReason: true, keyId: true, deviceId: true },
    });
  }

  describe('rotateDeviceKey', () => {
    it('gives the device a new active key and deprecates its older usable ones, which still decrypt', async () => {
      const deviceId = newDeviceId('rotate');
      const older = await generateKey(t, deviceId, '2.0.0');
      t.clock.advanceMs(1000);
      const current = await generateKey(t, deviceId, '2.0.1');
      const revoked = await generateKey(t, deviceId, '2.0.1');
      expect((await revoke(revoked.keyId, 'lost phone')).errors).toBeUndefined();
      const ciphertext = await encryptWithWebCrypto(current.publicKey, 'before rotation');
      t.clock.advanceMs(1000);

      const response = await rotate(deviceId);
      expect(response.errors).toBeUndefined();
      const fresh = response.data!.rotateDeviceKey;
      expect(fresh).toMatchObject({ deviceId, appVersion: '2.0.1', status: 'ACTIVE', algorithm: 'RSA-OAEP-256' });
      expect(new Date(fresh.createdAt).getTime()).toBe(t.clock.now().getTime());
      expect(new Date(fresh.expiresAt).getTime()).toBe(t.clock.now().getTime() + 30 * DAY_MS);
      expect(fresh.keyId).not.toBe(current.keyId);
      expect(await activeOf(deviceId)).toBe(fresh.keyId);

      for (const old of [older, current]) {
        expect(await statusOf(old.keyId)).toBe('DEPRECATED');
        expect(await row(old.keyId)).toMatchObject({ deprecated: true, deprecatedAt: t.clock.now() });
        expect(errorCode(await encryptWith(old.keyId))).toBe('KEY_EXPIRED');
      }
      const decrypted = await decrypt(t, { keyId: current.keyId, encryptedData: ciphertext }, t.as('service'));
      expect(decrypted.data?.decryptData.data).toBe('before rotation');
      expect(await row(revoked.keyId)).toMatchObject({ deprecated: false, deprecatedAt: null });
      expect(await statusOf(revoked.keyId)).toBe('REVOKED');
      expect((await encryptWith(fresh.keyId)).errors).toBeUndefined();
      expect(await metricRows('rotate', { deviceId })).toEqual([
        { status: 'success', errorReason: null, keyId: fresh.keyId, deviceId },
      ]);
    });

    it('counts the rotated-out key\'s retention from the rotation, not from its expiry', async () => {
      const deviceId = newDeviceId('rotate-retention');
      const old = await generateKey(t, deviceId);
      t.clock.advanceDays(1);
      expect((await rotate(deviceId)).errors).toBeUndefined();
      t.clock.advanceMs(90 * DAY_MS - 1);
      await runJob(t);
      expect(await row(old.keyId)).not.toBeNull();
      t.clock.advanceMs(1);
      await runJob(t);
      expect(await row(old.keyId)).toBeNull();
    });

    it('is counted against the rate limit and, when refused, changes nothing', async () => {
      const deviceId = newDeviceId('rotate-limit');
      const keys = [];
      for (let i = 0; i < 5; i += 1) keys.push(await generateKey(t, deviceId));
      const before = await counts(deviceId);
      const rows = await t.prisma.clientEncryptionKey.findMany({ where: { deviceId }, orderBy: { id: 'asc' } });

      const refused = await rotate(deviceId);
      expect(errorCode(refused)).toBe('RATE_LIMITED');
      expect(refused.errors![0].extensions.retryAfterSeconds).toBe(24 * 60 * 60);
      expect(refused.data).toBeNull();
      expect(await counts(deviceId)).toEqual(before);
      expect(await t.prisma.clientEncryptionKey.findMany({ where: { deviceId }, orderBy: { id: 'asc' } })).toEqual(rows);
      expect(await statusOf(keys[4].keyId)).toBe('ACTIVE');
      expect(await metricRows('rotate', { deviceId })).toEqual([
        { status: 'failure', errorReason: 'RATE_LIMITED', keyId: null, deviceId },
      ]);
    });

    it('uses one of the device\'s generations: after a rotation, one fewer generateEncryptionKey gets through', async () => {
      const deviceId = newDeviceId('rotate-counted');
      await generateKey(t, deviceId);
      expect((await rotate(deviceId)).errors).toBeUndefined();
      const responses = [];
      for (let i = 0; i < 4; i += 1) responses.push(await t.gql(GENERATE_KEY, { input: { deviceId } }));
      expect(responses.map(errorCode)).toEqual([undefined, undefined, undefined, 'RATE_LIMITED']);
    });

    it('leaves exactly one usable key when two rotations of a device race', async () => {
      const deviceId = newDeviceId('rotate-race');
      await generateKey(t, deviceId);
      const responses = await Promise.all([rotate(deviceId), rotate(deviceId)]);
      expect(responses.map((response) => response.errors)).toEqual([undefined, undefined]);
      const usable = await t.prisma.clientEncryptionKey.findMany({ where: { deviceId, deprecated: false, revokedAt: null } });
      expect(usable).toHaveLength(1);
      expect(await activeOf(deviceId)).toBe(usable[0].id);
    });

    it('rotates a device whose key has expired (nothing left to deprecate)', async () => {
      const deviceId = newDeviceId('rotate-expired');
      const expired = await generateKey(t, deviceId);
      t.clock.advanceDays(31);
      const response = await rotate(deviceId);
      expect(response.errors).toBeUndefined();
      expect(await activeOf(deviceId)).toBe(response.data!.rotateDeviceKey.keyId);
      expect(await row(expired.keyId)).toMatchObject({ deprecated: false, deprecatedAt: null });
    });

    it('says KEY_NOT_FOUND for a device without keys, or whose keys are past retention, and creates nothing', async () => {
      const unknown = newDeviceId('rotate-unknown');
      expect(errorCode(await rotate(unknown))).toBe('KEY_NOT_FOUND');
      expect(await counts(unknown)).toEqual({ keys: 0, ledger: 0 });
      expect(await metricRows('rotate', { deviceId: unknown })).toEqual([
        { status: 'failure', errorReason: 'KEY_NOT_FOUND', keyId: null, deviceId: unknown },
      ]);

      const gone = newDeviceId('rotate-gone');
      await generateKey(t, gone);
      t.clock.advanceDays(30 + 90);
      expect(errorCode(await rotate(gone))).toBe('KEY_NOT_FOUND');
      expect(await counts(gone)).toEqual({ keys: 1, ledger: 1 });
    });

    it.each([
      ['an empty deviceId', ''],
      ['a deviceId of 129 characters', 'd'.repeat(129)],
      ['a deviceId with a NUL byte', 'dev\u0000ice'],
      ['a deviceId with surrounding spaces', ' device '],
    ])('refuses %s with BAD_USER_INPUT', async (_, deviceId) => {
      const before = await t.prisma.clientEncryptionKey.count();
      const response = await rotate(deviceId);
      expect(errorCode(response)).toBe('BAD_USER_INPUT');
      expect(await t.prisma.clientEncryptionKey.count()).toBe(before);
    });
  });

  describe('revokeEncryptionKey', () => {
    it('refuses the key for everything from then on, and keeps the reason', async () => {
      const deviceId = newDeviceId('revoke');
      const key = await generateKey(t, deviceId);
      const ciphertext = await encryptWithWebCrypto(key.publicKey, 'x');
      expect((await decrypt(t, { keyId: key.keyId, encryptedData: await encryptWithWebCrypto(key.publicKey, 'warm the cache') }, t.as('service'))).errors).toBeUndefined();
      expect(t.app.get(PrivateKeyCache).has(key.keyId)).toBe(true);
      const response = await revoke(key.keyId, 'Gerät verloren – ticket #42');
      expect(t.app.get(PrivateKeyCache).has(key.keyId)).toBe(false);
      expect(response.errors).toBeUndefined();
      expect(response.data!.revokeEncryptionKey).toMatchObject({ keyId: key.keyId, deviceId, status: 'REVOKED' });
      expect(response.data!.revokeEncryptionKey.publicKey).toBe(key.publicKey);

      expect(await row(key.keyId)).toMatchObject({ revokedAt: t.clock.now(), revokedReason: 'Gerät verloren – ticket #42' });
      expect(errorCode(await decrypt(t, { keyId: key.keyId, encryptedData: ciphertext }, t.as('service')))).toBe('KEY_REVOKED');
      expect(errorCode(await encryptWith(key.keyId))).toBe('KEY_REVOKED');
      expect(await activeOf(deviceId)).toBeNull();
      expect(await metricRows('revoke', { keyId: key.keyId })).toEqual([
        { status: 'success', errorReason: null, keyId: key.keyId, deviceId },
      ]);
    });

    it('is harmless twice: the first revocation, its time and reason stand', async () => {
      const key = await generateKey(t, newDeviceId('revoke-twice'));
      await revoke(key.keyId, 'first');
      const first = await row(key.keyId);
      t.clock.advanceDays(1);
      const again = await revoke(key.keyId, 'second');
      expect(again.errors).toBeUndefined();
      expect(again.data!.revokeEncryptionKey.status).toBe('REVOKED');
      expect(await row(key.keyId)).toEqual(first);
    });

    it('starts retention at the revocation: the job deletes the key 90 days later, expiry or not', async () => {
      const key = await generateKey(t, newDeviceId('revoke-retention'));
      await revoke(key.keyId, 'compromised');
      t.clock.advanceMs(90 * DAY_MS - 1);
      await runJob(t);
      expect(await row(key.keyId)).not.toBeNull();
      t.clock.advanceMs(1);
      await runJob(t);
      expect(await row(key.keyId)).toBeNull();
      expect(errorCode(await revoke(key.keyId, 'again'))).toBe('KEY_NOT_FOUND');
    });

    it('says KEY_NOT_FOUND for an unknown key and for one past retention that the job has not deleted yet', async () => {
      expect(errorCode(await revoke('no-such-key', 'x'))).toBe('KEY_NOT_FOUND');
      expect(await metricRows('revoke', { keyId: 'no-such-key' })).toEqual([
        { status: 'failure', errorReason: 'KEY_NOT_FOUND', keyId: 'no-such-key', deviceId: null },
      ]);

      const key = await generateKey(t, newDeviceId('revoke-gone'));
      t.clock.advanceDays(30 + 90);
      expect(errorCode(await revoke(key.keyId, 'too late'))).toBe('KEY_NOT_FOUND');
      expect(await row(key.keyId)).toMatchObject({ revokedAt: null });
    });

    it.each([
      ['an empty reason', { reason: '' }],
      ['a reason of 501 characters', { reason: 'r'.repeat(501) }],
      ['a reason with a NUL byte', { reason: 'lost\u0000phone' }],
      ['a reason with a line break', { reason: 'lost\nphone' }],
      ['a reason with an invisible format character', { reason: 'lost\u202ephone' }],
      ['a blank reason', { reason: '   ' }],
      ['a reason with surrounding spaces', { reason: ' lost phone ' }],
      ['an empty keyId', { keyId: '' }],
      ['a keyId with a NUL byte', { keyId: 'key\u0000id' }],
    ])('refuses %s with BAD_USER_INPUT and changes nothing', async (_, input) => {
      const key = await generateKey(t, newDeviceId('revoke-bad'));
      const response = await t.gql(REVOKE_KEY, { keyId: key.keyId, reason: 'ok', ...input }, t.as('admin'));
      expect(errorCode(response)).toBe('BAD_USER_INPUT');
      expect(await row(key.keyId)).toMatchObject({ revokedAt: null, revokedReason: null });
    });

    it('accepts a reason of exactly 500 characters', async () => {
      const key = await generateKey(t, newDeviceId('revoke-long'));
      expect((await revoke(key.keyId, 'r'.repeat(500))).errors).toBeUndefined();
      expect((await row(key.keyId))!.revokedReason).toHaveLength(500);
    });
  });
});

import { encryptWithWebCrypto } from '../support/clients';
import {
  ACTIVE_KEY,
  decrypt,
  encrypt,
  ENCRYPTION_KEY,
  errorCode,
  generateKey,
  newDeviceId,
} from '../support/operations';
import { startTestApp, TestApp } from '../support/test-app';

describe('key lifecycle enforced at request time', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(() => t.close());

  const encryptWith = (keyId: string) => encrypt(t, { keyId, data: 'x' });
  const statusOf = async (keyId: string) =>
    (await t.gql(ENCRYPTION_KEY, { keyId })).data!.encryptionKey?.status ?? null;

  it('an expired key decrypts but does not encrypt, even before the daily job marks it', async () => {
    const deviceId = newDeviceId();
    const key = await generateKey(t, deviceId);
    const ciphertext = await encryptWithWebCrypto(key.publicKey, 'old secret');

    t.clock.advanceDays(30);
    expect(errorCode(await encryptWith(key.keyId))).toBe('KEY_EXPIRED');
    expect((await decrypt(t, { keyId: key.keyId, encryptedData: ciphertext })).data?.decryptData.data).toBe('old secret');
    expect(await statusOf(key.keyId)).toBe('DEPRECATED');
    expect((await t.gql(ACTIVE_KEY, { deviceId })).data!.activeEncryptionKey).toBeNull();
    expect((await t.prisma.clientEncryptionKey.findUniqueOrThrow({ where: { id: key.keyId } })).deprecated).toBe(false);
  });

  it('a deprecated key decrypts but does not encrypt', async () => {
    const key = await generateKey(t, newDeviceId());
    await t.prisma.clientEncryptionKey.update({
      where: { id: key.keyId },
      data: { deprecated: true, deprecatedAt: t.clock.now() },
    });
    expect(errorCode(await encryptWith(key.keyId))).toBe('KEY_EXPIRED');
    const ciphertext = await encryptWithWebCrypto(key.publicKey, 'still readable');
    expect((await decrypt(t, { keyId: key.keyId, encryptedData: ciphertext })).data?.decryptData.data).toBe('still readable');
    expect(await statusOf(key.keyId)).toBe('DEPRECATED');
  });

  it('a revoked key does neither', async () => {
    const key = await generateKey(t, newDeviceId());
    await t.prisma.clientEncryptionKey.update({
      where: { id: key.keyId },
      data: { revokedAt: t.clock.now(), revokedReason: 'test' },
    });
    const ciphertext = await encryptWithWebCrypto(key.publicKey, 'x');
    expect(errorCode(await decrypt(t, { keyId: key.keyId, encryptedData: ciphertext }))).toBe('KEY_REVOKED');
    expect(errorCode(await encryptWith(key.keyId))).toBe('KEY_REVOKED');
    expect(await statusOf(key.keyId)).toBe('REVOKED');
  });

  it('a key past expiry + retention is gone (KEY_NOT_FOUND), job or no job', async () => {
    const key = await generateKey(t, newDeviceId());
    const ciphertext = await encryptWithWebCrypto(key.publicKey, 'x');

    t.clock.advanceDays(30 + 90 - 1);
    expect((await decrypt(t, { keyId: key.keyId, encryptedData: ciphertext })).data?.decryptData.data).toBe('x');
    t.clock.advanceDays(1);
    expect(errorCode(await decrypt(t, { keyId: key.keyId, encryptedData: ciphertext }))).toBe('KEY_NOT_FOUND');
    expect(await statusOf(key.keyId)).toBeNull();
  });

  it('follows KEY_EXPIRY_DAYS and KEY_RETENTION_DAYS', async () => {
    const custom = await startTestApp({ env: { KEY_EXPIRY_DAYS: '2', KEY_RETENTION_DAYS: '3' } });
    try {
      const key = await generateKey(custom, newDeviceId());
      const ciphertext = await encryptWithWebCrypto(key.publicKey, 'x');
      custom.clock.advanceDays(1);
      expect((await encrypt(custom, { keyId: key.keyId, data: 'x' })).errors).toBeUndefined();
      custom.clock.advanceDays(1);
      expect(errorCode(await encrypt(custom, { keyId: key.keyId, data: 'x' }))).toBe('KEY_EXPIRED');
      custom.clock.advanceDays(3);
      expect(errorCode(await decrypt(custom, { keyId: key.keyId, encryptedData: ciphertext }))).toBe('KEY_NOT_FOUND');
    } finally {
      await custom.close();
    }
  });
});

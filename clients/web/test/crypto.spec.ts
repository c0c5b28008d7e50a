import { constants, privateDecrypt } from 'node:crypto';
import { compactDecrypt, decodeProtectedHeader } from 'jose';
import { encryptJwe, encryptRaw, KmsClientError, maxRawPlaintextBytes } from '../src/index.js';
import { rejection, rsaPair } from './fake-kms.js';

/** Every ciphertext is checked by decrypting it with an implementation that shares no code with the library. */
const { publicKeyPem, privateKey } = rsaPair();
const otherKey = rsaPair();

const decryptRaw = (base64: string, key = privateKey) =>
  privateDecrypt(
    { key, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' }, // MGF1 uses the same hash
    Buffer.from(base64, 'base64'),
  ).toString('utf8');

describe('encryptRaw (RSA-OAEP, SHA-256, MGF1-SHA-256, standard base64)', () => {
  it('decrypts with node:crypto OAEP-SHA256 to the UTF-8 text, only with the matching private key', async () => {
    const secret = 'pässcode-✓-1234';
    const encrypted = await encryptRaw(publicKeyPem, secret);
    expect(encrypted).toMatch(/^[A-Za-z0-9+/]{342}==$/); // 256 bytes, standard alphabet, padded
    expect(decryptRaw(encrypted)).toBe(secret);
    expect(() => decryptRaw(encrypted, otherKey.privateKey)).toThrow();
  });

  it('is randomised: the same PIN twice gives two ciphertexts', async () => {
    const [a, b] = await Promise.all([encryptRaw(publicKeyPem, '482915'), encryptRaw(publicKeyPem, '482915')]);
    expect(a).not.toBe(b);
    expect([decryptRaw(a), decryptRaw(b)]).toEqual(['482915', '482915']);
  });

  it('takes up to 190 bytes of UTF-8 and refuses 191 (bytes, not characters)', async () => {
    expect(maxRawPlaintextBytes(2048)).toBe(190);
    const fits = 'é'.repeat(95); // 190 bytes
    expect(decryptRaw(await encryptRaw(publicKeyPem, fits))).toBe(fits);
    for (const tooLong of ['x'.repeat(191), '€'.repeat(64) /* 64 characters, 192 bytes */]) {
      const error = await rejection(encryptRaw(publicKeyPem, tooLong));
      expect(error).toBeInstanceOf(KmsClientError);
      expect(error.code).toBe('PAYLOAD_TOO_LARGE');
      expect(error.message).not.toContain(tooLong); // no plaintext in messages
    }
  });

  it('refuses something that is not an SPKI PEM with BAD_USER_INPUT', async () => {
    const error = await rejection(encryptRaw('-----BEGIN PUBLIC KEY-----\nnot base64!\n-----END PUBLIC KEY-----', '1234'));
    expect(error.code).toBe('BAD_USER_INPUT');
  });
});

describe('encryptJwe (compact, RSA-OAEP-256 + A256GCM)', () => {
  const kid = '7f0c6a0e-4a43-4c0e-9b53-2f7d1c2f9a10';

  it('decrypts with jose compactDecrypt; the protected header is exactly alg, enc and kid', async () => {
    const data = JSON.stringify({ card: '4111 1111 1111 1111', note: 'ünïcode ✓' });
    const jwe = await encryptJwe(publicKeyPem, kid, data);
    const { plaintext, protectedHeader } = await compactDecrypt(jwe, privateKey, {
      keyManagementAlgorithms: ['RSA-OAEP-256'],
      contentEncryptionAlgorithms: ['A256GCM'],
    });
    expect(new TextDecoder().decode(plaintext)).toBe(data);
    expect(protectedHeader).toEqual({ alg: 'RSA-OAEP-256', enc: 'A256GCM', kid });
    const parts = jwe.split('.');
    expect(parts).toHaveLength(5);
    expect(parts.every((part) => /^[A-Za-z0-9_-]+$/.test(part))).toBe(true); // base64url, no padding
    expect(parts.slice(1).map((part) => Buffer.from(part, 'base64url').length)).toEqual([
      256, // RSA-2048 encrypted CEK
      12, // 96-bit IV
      Buffer.byteLength(data), // GCM: ciphertext as long as the plaintext
      16, // 128-bit tag
    ]);
  });

  it('binds the protected header as AAD: another kid in the header fails to decrypt', async () => {
    const [, ...rest] = (await encryptJwe(publicKeyPem, kid, 'bound')).split('.');
    const forged = Buffer.from(JSON.stringify({ alg: 'RSA-OAEP-256', enc: 'A256GCM', kid: 'another' })).toString(
      'base64url',
    );
    const jwe = [forged, ...rest].join('.');
    expect(decodeProtectedHeader(jwe).kid).toBe('another');
    await expect(compactDecrypt(jwe, privateKey)).rejects.toThrow();
  });

  it('uses a fresh CEK and IV each time', async () => {
    const [a, b] = await Promise.all([encryptJwe(publicKeyPem, kid, 'same'), encryptJwe(publicKeyPem, kid, 'same')]);
    const [, keyA, ivA] = a.split('.');
    const [, keyB, ivB] = b.split('.');
    expect(keyA).not.toBe(keyB);
    expect(ivA).not.toBe(ivB);
  });
});

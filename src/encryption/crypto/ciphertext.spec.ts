import { createPublicKey, generateKeyPairSync, webcrypto } from 'node:crypto';
import { KmsError } from '../../common';
import { decryptCiphertext, encryptToJwe, jweLength, parseCiphertext } from './ciphertext';

const importPublicKey = (pem: string) =>
  webcrypto.subtle.importKey('spki', createPublicKey(pem).export({ type: 'spki', format: 'der' }), { name: 'RSA-OAEP', hash: 'SHA-256' }, false, ['encrypt', 'wrapKey']);

describe('ciphertext formats', () => {
  const pair = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const publicPem = pair.publicKey.export({ type: 'spki', format: 'pem' }).toString();
  let privateKey: webcrypto.CryptoKey;
  beforeAll(async () => {
    privateKey = await webcrypto.subtle.importKey(
      'pkcs8',
      pair.privateKey.export({ type: 'pkcs8', format: 'der' }),
      { name: 'RSA-OAEP', hash: 'SHA-256' },
      false,
      ['decrypt', 'unwrapKey'],
    );
  });

  it('predicts the exact length of the JWE it produces', async () => {
    const publicKey = await importPublicKey(publicPem);
    for (const size of [0, 1, 2, 3, 100, 1000, 1153]) {
      for (const kid of ['k', '0b7c1f0e-8f3c-4f7e-9a57-3f1f0d2c9e11']) {
        const jwe = await encryptToJwe('x'.repeat(size), publicKey, kid);
        expect({ size, kid, length: jweLength(size, kid) }).toEqual({ size, kid, length: jwe.length });
      }
    }
  });

  it('tells the formats apart and reads kid without cryptography', () => {
    expect(parseCiphertext('QUJD')).toEqual({ format: 'raw', text: 'QUJD' });
    const header = Buffer.from(JSON.stringify({ alg: 'RSA-OAEP-256', enc: 'A256GCM', kid: 'abc' })).toString('base64url');
    expect(parseCiphertext(`${header}.a.b.c.d`)).toMatchObject({ format: 'jwe', kid: 'abc' });
  });

  it('says DECRYPTION_FAILED for a malformed JWE header', () => {
    expect(() => parseCiphertext('%%%.a.b.c.d')).toThrow(KmsError);
  });

  it('refuses a JWE whose encrypted key lost its leading zero byte (a second form of a single-use submission)', async () => {
    const publicKey = await importPublicKey(publicPem);
    let jwe = '';
    // About one encrypted key in 256 starts with a zero byte.
    for (let tries = 0; tries < 5000; tries += 1) {
      jwe = await encryptToJwe('482913', publicKey, 'k');
      if (Buffer.from(jwe.split('.')[1], 'base64url')[0] === 0) break;
    }
    const parts = jwe.split('.');
    const encryptedKey = Buffer.from(parts[1], 'base64url');
    expect(encryptedKey[0]).toBe(0);
    const stripped = [parts[0], encryptedKey.subarray(1).toString('base64url'), ...parts.slice(2)].join('.');

    await expect(decryptCiphertext(parseCiphertext(jwe), privateKey)).resolves.toBe('482913');
    await expect(decryptCiphertext(parseCiphertext(stripped), privateKey)).rejects.toMatchObject({
      code: 'DECRYPTION_FAILED',
    });
  });

  it('refuses a plaintext that is not UTF-8 as DECRYPTION_FAILED', async () => {
    const publicKey = await importPublicKey(publicPem);
    const bytes = await webcrypto.subtle.encrypt({ name: 'RSA-OAEP' }, publicKey, new Uint8Array([0xff, 0xfe]));
    const raw = parseCiphertext(Buffer.from(bytes).toString('base64'));
    await expect(decryptCiphertext(raw, privateKey)).rejects.toMatchObject({ code: 'DECRYPTION_FAILED' });
  });
});

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

  it('decrypts JWE compact and raw RSA-OAEP-SHA256 from WebCrypto and jose', async () => {
    const publicKey = await importPublicKey(publicPem);
    const jwe = await encryptToJwe('Grüße 482913', publicKey, 'k');
    await expect(decryptCiphertext(parseCiphertext(jwe), privateKey)).resolves.toBe('Grüße 482913');
    const raw = await webcrypto.subtle.encrypt({ name: 'RSA-OAEP' }, publicKey, new TextEncoder().encode('raw 1234'));
    await expect(decryptCiphertext(parseCiphertext(Buffer.from(raw).toString('base64')), privateKey)).resolves.toBe('raw 1234');
  });

  it('refuses a JWE that is not exactly RSA-OAEP-256 + A256GCM compact, or was altered, as DECRYPTION_FAILED', async () => {
    const publicKey = await importPublicKey(publicPem);
    const jwe = await encryptToJwe('482913', publicKey, 'k');
    const [header, encryptedKey, iv, ciphertext, tag] = jwe.split('.');
    const withHeader = (extra: object) => {
      const fields = { ...JSON.parse(Buffer.from(header, 'base64url').toString()), ...extra };
      return [Buffer.from(JSON.stringify(fields)).toString('base64url'), encryptedKey, iv, ciphertext, tag].join('.');
    };
    const flip = (part: string) => {
      const bytes = Buffer.from(part, 'base64url');
      bytes[0] ^= 1;
      return bytes.toString('base64url');
    };
    const refused = {
      zip: withHeader({ zip: 'DEF' }),
      crit: withHeader({ crit: ['exp'], exp: 1 }),
      alg: withHeader({ alg: 'RSA-OAEP' }),
      enc: withHeader({ enc: 'A128GCM' }),
      'header changed (additional data)': withHeader({ kid: 'other' }),
      'a sixth part': `${jwe}.AAAA`,
      'not base64url': [header, encryptedKey, `${iv}*`, ciphertext, tag].join('.'),
      'short iv': [header, encryptedKey, iv.slice(0, 8), ciphertext, tag].join('.'),
      'short tag': [header, encryptedKey, iv, ciphertext, tag.slice(0, 16)].join('.'),
      'tampered encrypted key': [header, flip(encryptedKey), iv, ciphertext, tag].join('.'),
      'tampered ciphertext': [header, encryptedKey, iv, flip(ciphertext), tag].join('.'),
      'tampered tag': [header, encryptedKey, iv, ciphertext, flip(tag)].join('.'),
    };
    for (const [what, text] of Object.entries(refused)) {
      const outcome = await Promise.resolve()
        .then(() => decryptCiphertext(parseCiphertext(text), privateKey))
        .then(
        () => 'decrypted',
        (error: KmsError) => error.code,
      );
      expect({ what, outcome }).toEqual({ what, outcome: 'DECRYPTION_FAILED' });
    }
  });

  it('refuses a plaintext that is not UTF-8 as DECRYPTION_FAILED', async () => {
    const publicKey = await importPublicKey(publicPem);
    const bytes = await webcrypto.subtle.encrypt({ name: 'RSA-OAEP' }, publicKey, new Uint8Array([0xff, 0xfe]));
    const raw = parseCiphertext(Buffer.from(bytes).toString('base64'));
    await expect(decryptCiphertext(raw, privateKey)).rejects.toMatchObject({ code: 'DECRYPTION_FAILED' });
  });
});

import { createHash, randomBytes } from 'node:crypto';
import { ciphertextFingerprint, parseCiphertext } from './ciphertext';

const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

describe('ciphertextFingerprint', () => {
  const rsa = randomBytes(256);
  const standard = rsa.toString('base64');

  it('is the SHA-256 of the raw RSA bytes, whatever their base64 form', () => {
    const forms = [
      standard,
      standard.replace(/=+$/, ''),
      rsa.toString('base64url'),
      `${rsa.toString('base64url')}==`,
    ];
    expect(new Set(forms).size).toBe(4);
    for (const form of forms) expect(ciphertextFingerprint(parseCiphertext(form))).toBe(sha256(rsa));
  });

  it('tells different ciphertexts apart', () => {
    const other = Buffer.from(rsa);
    other[255] ^= 1;
    expect(ciphertextFingerprint(parseCiphertext(other.toString('base64')))).not.toBe(sha256(rsa));
  });

  it('identifies a JWE by its encrypted key alone', () => {
    const header = Buffer.from(JSON.stringify({ alg: 'RSA-OAEP-256', enc: 'A256GCM', kid: 'k' })).toString('base64url');
    const jwe = (encryptedKey: Buffer, iv: string) => `${header}.${encryptedKey.toString('base64url')}.${iv}.Y2lwaGVy.dGFn`;
    expect(ciphertextFingerprint(parseCiphertext(jwe(rsa, 'aXYx')))).toBe(sha256(rsa));
    expect(ciphertextFingerprint(parseCiphertext(jwe(rsa, 'aXYy')))).toBe(sha256(rsa));
    expect(ciphertextFingerprint(parseCiphertext(jwe(randomBytes(256), 'aXYx')))).not.toBe(sha256(rsa));
  });
});

import { createHash, webcrypto } from 'node:crypto';
import { CompactEncrypt, compactDecrypt, decodeProtectedHeader } from 'jose';
import { KEY_ALGORITHM } from '../../keys';
import { encryptionErrors } from '../encryption.errors';

const CONTENT_ENCRYPTION = 'A256GCM';
const RSA_2048_BYTES = 256;
const BASE64 = /^(?:[A-Za-z0-9+/]+={0,2}|[A-Za-z0-9_-]+={0,2})$/;
const UTF8 = new TextDecoder('utf-8', { fatal: true });

/** The two accepted shapes (docs/contract.md, ciphertext formats), told apart by the dots of JWE compact. */
export type Ciphertext =
  | { format: 'raw'; text: string }
  | { format: 'jwe'; text: string; kid?: string };

/** Reads only what is needed to find the key; nothing here is cryptography. */
export function parseCiphertext(text: string): Ciphertext {
  if (!text.includes('.')) return { format: 'raw', text };
  try {
    const header = decodeProtectedHeader(text);
    const kid = typeof header.kid === 'string' ? header.kid : undefined;
    return { format: 'jwe', text, kid };
  } catch {
    throw encryptionErrors.decryptionFailed('ciphertext-malformed');
  }
}

/**
 * SHA-256 (hex) of the RSA ciphertext bytes a submission carries, whatever its
 * text form: raw in either base64 alphabet, with or without padding, gives the
 * same digest; for JWE the encrypted key identifies it (the GCM tag binds the rest
 * to it). Only meaningful for a ciphertext that decrypted, and decryption accepts
 * exactly 256 RSA bytes in both formats: RSA would also take the number with its
 * leading zero bytes dropped, which would be a second form of the same submission.
 */
export function ciphertextFingerprint(ciphertext: Ciphertext): string {
  return createHash('sha256').update(rsaBytes(ciphertext)).digest('hex');
}

/** The RSA-encrypted part: the whole raw ciphertext, or the JWE encrypted key. */
function rsaBytes(ciphertext: Ciphertext): Buffer {
  if (ciphertext.format === 'jwe') return Buffer.from(ciphertext.text.split('.')[1] ?? '', 'base64url');
  return BASE64.test(ciphertext.text) ? Buffer.from(ciphertext.text, 'base64') : Buffer.alloc(0);
}

/**
 * Plaintext as UTF-8 text. Every failure (bad base64, wrong length, wrong key,
 * tampering, padding, algorithm, non-UTF-8 plaintext) is the same DECRYPTION_FAILED.
 */
export async function decryptCiphertext(
  ciphertext: Ciphertext,
  privateKey: webcrypto.CryptoKey,
): Promise<string> {
  const bytes = rsaBytes(ciphertext);
  if (bytes.length !== RSA_2048_BYTES) throw encryptionErrors.decryptionFailed('ciphertext-malformed');
  let plaintext: Uint8Array;
  try {
    plaintext =
      ciphertext.format === 'raw'
        ? new Uint8Array(await webcrypto.subtle.decrypt({ name: 'RSA-OAEP' }, privateKey, bytes))
        : (
            await compactDecrypt(ciphertext.text, privateKey, {
              keyManagementAlgorithms: [KEY_ALGORITHM],
              contentEncryptionAlgorithms: [CONTENT_ENCRYPTION],
            })
          ).plaintext;
  } catch {
    throw encryptionErrors.decryptionFailed('decryption-rejected');
  }
  try {
    return UTF8.decode(plaintext);
  } catch {
    throw encryptionErrors.decryptionFailed('plaintext-not-utf8');
  }
}

/** JWE compact, RSA-OAEP-256 + A256GCM, `kid` in the protected header. */
export function encryptToJwe(
  plaintext: string,
  publicKey: webcrypto.CryptoKey,
  kid: string,
): Promise<string> {
  return new CompactEncrypt(new TextEncoder().encode(plaintext))
    .setProtectedHeader(jweHeader(kid))
    .encrypt(publicKey);
}

function jweHeader(kid: string) {
  return { alg: KEY_ALGORITHM, enc: CONTENT_ENCRYPTION, kid };
}

/** Exact length of encryptToJwe's output, known before any cryptography runs. */
export function jweLength(plaintextBytes: number, kid: string): number {
  const base64url = (bytes: number) => Math.ceil((bytes * 4) / 3);
  const header = Buffer.byteLength(JSON.stringify(jweHeader(kid)));
  // header . encrypted key . 96-bit iv . ciphertext . 128-bit tag
  return base64url(header) + base64url(RSA_2048_BYTES) + base64url(12) + base64url(plaintextBytes) + base64url(16) + 4;
}

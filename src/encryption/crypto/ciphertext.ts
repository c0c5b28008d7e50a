import { constants, createDecipheriv, createHash, KeyObject, privateDecrypt, randomBytes, webcrypto } from 'node:crypto';
import { CompactEncrypt, decodeProtectedHeader } from 'jose';
import { KEY_ALGORITHM } from '../../keys';
import { encryptionErrors } from '../encryption.errors';

const CONTENT_ENCRYPTION = 'A256GCM';
const RSA_2048_BYTES = 256;
const BASE64 = /^(?:[A-Za-z0-9+/]+={0,2}|[A-Za-z0-9_-]+={0,2})$/;
const BASE64URL = /^[A-Za-z0-9_-]*$/;
const GCM_IV_BYTES = 12;
const GCM_TAG_BYTES = 16;
const AES_256_KEY_BYTES = 32;
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
 *
 * node:crypto, synchronously, not WebCrypto or jose: on this path a WebCrypto job
 * cost about 100 µs of the event loop's time to set up and 160 µs more CPU in all
 * than the RSA itself, and jose's JWE (two WebCrypto jobs) 830 µs against 365 µs
 * (bench:encryption). With a worker per CPU, the event loop doing the RSA loses no
 * parallelism.
 */
export async function decryptCiphertext(
  ciphertext: Ciphertext,
  privateKey: webcrypto.CryptoKey,
): Promise<string> {
  const bytes = rsaBytes(ciphertext);
  if (bytes.length !== RSA_2048_BYTES) throw encryptionErrors.decryptionFailed('ciphertext-malformed');
  const key = KeyObject.from(privateKey);
  let plaintext: Buffer;
  try {
    plaintext = ciphertext.format === 'raw' ? rsaOaepSha256Decrypt(key, bytes) : decryptJweCompact(ciphertext.text, bytes, key);
  } catch {
    throw encryptionErrors.decryptionFailed('decryption-rejected');
  }
  try {
    return UTF8.decode(plaintext);
  } catch {
    throw encryptionErrors.decryptionFailed('plaintext-not-utf8');
  }
}

function rsaOaepSha256Decrypt(key: KeyObject, bytes: Buffer): Buffer {
  return privateDecrypt({ key, oaepHash: 'sha256', padding: constants.RSA_PKCS1_OAEP_PADDING }, bytes);
}

/**
 * JWE compact (RFC 7516) with alg RSA-OAEP-256 and enc A256GCM only, as jose checks
 * it: five base64url parts, a JSON object header naming exactly those algorithms,
 * no `zip` or `crit`, a 96-bit IV and a 128-bit tag; the protected header is the
 * GCM's additional data. An encrypted key that does not decrypt gives a random
 * content key (RFC 7516 §11.5), so that a bad key and a bad tag fail alike.
 */
function decryptJweCompact(text: string, encryptedKey: Buffer, key: KeyObject): Buffer {
  const parts = text.split('.');
  if (parts.length !== 5 || !parts.every((part) => BASE64URL.test(part))) throw new Error('not JWE compact');
  const [header, , iv64, ciphertext64, tag64] = parts;
  const fields = JSON.parse(Buffer.from(header, 'base64url').toString('utf8')) as unknown;
  if (typeof fields !== 'object' || fields === null || Array.isArray(fields)) throw new Error('header not an object');
  const { alg, enc, zip, crit } = fields as Record<string, unknown>;
  if (alg !== KEY_ALGORITHM || enc !== CONTENT_ENCRYPTION || zip !== undefined || crit !== undefined) throw new Error('header refused');
  const iv = Buffer.from(iv64, 'base64url');
  const tag = Buffer.from(tag64, 'base64url');
  if (iv.length !== GCM_IV_BYTES || tag.length !== GCM_TAG_BYTES) throw new Error('iv or tag length');
  let cek: Buffer;
  try {
    cek = rsaOaepSha256Decrypt(key, encryptedKey);
  } catch {
    cek = randomBytes(AES_256_KEY_BYTES);
  }
  if (cek.length !== AES_256_KEY_BYTES) cek = randomBytes(AES_256_KEY_BYTES);
  const decipher = createDecipheriv('aes-256-gcm', cek, iv, { authTagLength: GCM_TAG_BYTES });
  decipher.setAAD(Buffer.from(header, 'ascii'));
  decipher.setAuthTag(tag);
  return Buffer.concat([decipher.update(Buffer.from(ciphertext64, 'base64url')), decipher.final()]);
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

import { KmsClientError } from './errors.js';

/**
 * The two ciphertext formats the KMS decrypts (SPEC section 3), with WebCrypto only:
 * raw RSA-OAEP (SHA-256, MGF1-SHA-256) in standard base64, and JWE compact
 * RSA-OAEP-256 + A256GCM (RFC 7516) with the key id as `kid`.
 */

const RSA_OAEP_SHA256 = { name: 'RSA-OAEP', hash: 'SHA-256' } as const;
// Named through globalThis so that the types hold with the DOM library and with Node's.
type Subtle = typeof globalThis.crypto.subtle;
type PublicKey = Awaited<ReturnType<Subtle['importKey']>>;
const SHA256_BYTES = 32;

/** Largest plaintext raw RSA-OAEP-SHA256 takes: k - 2 hLen - 2 bytes (190 for RSA-2048). */
export function maxRawPlaintextBytes(modulusBits: number): number {
  return modulusBits / 8 - 2 * SHA256_BYTES - 2;
}

/** Raw RSA-OAEP-SHA256 of the UTF-8 text, standard base64: for a passcode or PIN. */
export async function encryptRaw(publicKeyPem: string, plaintext: string): Promise<string> {
  const key = await importPublicKey(publicKeyPem);
  const bytes = new TextEncoder().encode(plaintext);
  const max = maxRawPlaintextBytes((key.algorithm as typeof key.algorithm & { modulusLength: number }).modulusLength);
  if (bytes.length > max) {
    throw new KmsClientError('PAYLOAD_TOO_LARGE', `RSA-OAEP takes at most ${max} bytes of UTF-8, got ${bytes.length}`);
  }
  return base64(await subtle().encrypt({ name: 'RSA-OAEP' }, key, bytes));
}

/** JWE compact serialization, RSA-OAEP-256 + A256GCM, `kid` in the protected header: for data. */
export async function encryptJwe(publicKeyPem: string, kid: string, plaintext: string): Promise<string> {
  const key = await importPublicKey(publicKeyPem);
  const header = base64url(new TextEncoder().encode(JSON.stringify({ alg: 'RSA-OAEP-256', enc: 'A256GCM', kid })));
  const cek = crypto.getRandomValues(new Uint8Array(32));
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const aesKey = await subtle().importKey('raw', cek, { name: 'AES-GCM' }, false, ['encrypt']);
  const sealed = new Uint8Array(
    await subtle().encrypt(
      { name: 'AES-GCM', iv, additionalData: new TextEncoder().encode(header), tagLength: 128 },
      aesKey,
      new TextEncoder().encode(plaintext),
    ),
  );
  const encryptedKey = await subtle().encrypt({ name: 'RSA-OAEP' }, key, cek);
  const tagStart = sealed.length - 16; // WebCrypto appends the tag to the ciphertext
  return [header, encryptedKey, iv, sealed.subarray(0, tagStart), sealed.subarray(tagStart)]
    .map((part) => (typeof part === 'string' ? part : base64url(part)))
    .join('.');
}

async function importPublicKey(publicKeyPem: string): Promise<PublicKey> {
  const webCrypto = subtle();
  try {
    const spki = Uint8Array.from(atob(publicKeyPem.replace(/-----(BEGIN|END) PUBLIC KEY-----|\s/g, '')), (c) =>
      c.charCodeAt(0),
    );
    return await webCrypto.importKey('spki', spki, RSA_OAEP_SHA256, false, ['encrypt']);
  } catch {
    throw new KmsClientError('BAD_USER_INPUT', 'not an RSA public key in SPKI PEM form');
  }
}

/** WebCrypto exists only in secure contexts: HTTPS pages, localhost, and Node >= 20. */
function subtle(): Subtle {
  const found = globalThis.crypto?.subtle;
  if (!found) throw new KmsClientError('INTERNAL', 'WebCrypto is unavailable: serve the page over HTTPS (or localhost)');
  return found;
}

function base64(data: ArrayBuffer | Uint8Array): string {
  let binary = '';
  for (const byte of new Uint8Array(data)) binary += String.fromCharCode(byte);
  return btoa(binary);
}

const base64url = (data: ArrayBuffer | Uint8Array) =>
  base64(data).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');

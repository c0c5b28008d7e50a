import { createPublicKey, generateKeyPair, type RSAKeyPairOptions, webcrypto } from 'node:crypto';
import { promisify } from 'node:util';

const generateKeyPairAsync = promisify(generateKeyPair);

export const KEY_ALGORITHM = 'RSA-OAEP-256';
const RSA_OAEP_SHA256 = { name: 'RSA-OAEP', hash: 'SHA-256' } as const;

export interface RsaKeyPair {
  /** SPKI, PEM: what devices receive. */
  publicKeyPem: string;
  /** PKCS#8, DER: what gets wrapped and stored. */
  privateKeyDer: Buffer;
}

/** RSA-2048, e = 65537: SPKI PEM and PKCS#8 DER (also what the key pool's thread makes). */
export const RSA_KEY_OPTIONS: RSAKeyPairOptions<'pem', 'der'> = {
  modulusLength: 2048,
  publicExponent: 0x10001,
  publicKeyEncoding: { type: 'spki', format: 'pem' },
  privateKeyEncoding: { type: 'pkcs8', format: 'der' },
};

/** Generated on libuv's thread pool so the event loop keeps serving (a key made on request). */
export async function generateRsaKeyPair(): Promise<RsaKeyPair> {
  const { publicKey, privateKey } = await generateKeyPairAsync('rsa', RSA_KEY_OPTIONS);
  return { publicKeyPem: publicKey, privateKeyDer: privateKey };
}

/** RFC 7517 JWK of a public key, labelled for RSA-OAEP-256 encryption under `kid`. */
export function publicKeyJwk(publicKeyPem: string, kid: string) {
  const { n, e } = createPublicKey(publicKeyPem).export({ format: 'jwk' });
  return { kty: 'RSA', n, e, kid, alg: KEY_ALGORITHM, use: 'enc' };
}

/**
 * WebCrypto keys: their RSA operations run on the thread pool (both cores, no
 * event-loop stall), and one parsed key serves every request for it.
 */
export function importPrivateKey(privateKeyDer: Buffer): Promise<webcrypto.CryptoKey> {
  return webcrypto.subtle.importKey('pkcs8', privateKeyDer, RSA_OAEP_SHA256, false, [
    'decrypt',
    'unwrapKey',
  ]);
}

export function importPublicKey(publicKeyPem: string): Promise<webcrypto.CryptoKey> {
  const spki = createPublicKey(publicKeyPem).export({ type: 'spki', format: 'der' });
  return webcrypto.subtle.importKey('spki', spki, RSA_OAEP_SHA256, false, ['encrypt', 'wrapKey']);
}

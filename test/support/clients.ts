import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { CompactEncrypt, importJWK, type JWK } from 'jose';
import { rememberSecret } from './secrets-ledger';

/**
 * Device-side encryptors that share no code with the service: what a browser,
 * a JOSE library and the openssl command line produce from the public key.
 */

/** WebCrypto RSA-OAEP with SHA-256 (MGF1-SHA-256), as browsers and iOS do it: raw, base64. */
export async function encryptWithWebCrypto(publicKeyPem: string, plaintext: string): Promise<string> {
  rememberSecret(plaintext);
  const spki = Buffer.from(
    publicKeyPem.replace(/-----(BEGIN|END) PUBLIC KEY-----|\s/g, ''),
    'base64',
  );
  const key = await crypto.subtle.importKey('spki', spki, { name: 'RSA-OAEP', hash: 'SHA-256' }, false, [
    'encrypt',
  ]);
  const ciphertext = await crypto.subtle.encrypt({ name: 'RSA-OAEP' }, key, new TextEncoder().encode(plaintext));
  return Buffer.from(ciphertext).toString('base64');
}

/** jose: JWE compact, RSA-OAEP-256 + A256GCM, from the published JWK (kid included unless told). */
export async function encryptWithJose(
  jwk: JWK,
  plaintext: string,
  header: { kid?: string | null; enc?: string; alg?: string } = {},
): Promise<string> {
  rememberSecret(plaintext);
  const alg = header.alg ?? 'RSA-OAEP-256';
  const key = await importJWK({ ...jwk, alg }, alg);
  const kid = header.kid === null ? undefined : (header.kid ?? jwk.kid);
  return new CompactEncrypt(new TextEncoder().encode(plaintext))
    .setProtectedHeader({ alg, enc: header.enc ?? 'A256GCM', ...(kid ? { kid } : {}) })
    .encrypt(key);
}

/** `openssl pkeyutl` with OAEP, SHA-256 and MGF1-SHA-256, as docs/contract.md (ciphertext formats) spells it. */
export async function encryptWithOpenssl(publicKeyPem: string, plaintext: string): Promise<string> {
  rememberSecret(plaintext);
  const dir = await mkdtemp(join(tmpdir(), 'kms-openssl-'));
  try {
    const keyFile = join(dir, 'public.pem');
    const inFile = join(dir, 'plain.bin');
    await writeFile(keyFile, publicKeyPem);
    await writeFile(inFile, plaintext, 'utf8');
    const { stdout } = await promisify(execFile)(
      'openssl',
      [
        'pkeyutl', '-encrypt', '-pubin', '-inkey', keyFile, '-in', inFile,
        '-pkeyopt', 'rsa_padding_mode:oaep',
        '-pkeyopt', 'rsa_oaep_md:sha256',
        '-pkeyopt', 'rsa_mgf1_md:sha256',
      ],
      { encoding: 'buffer' },
    );
    return stdout.toString('base64');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Standard base64 to the URL-safe alphabet without padding. */
export const toBase64Url = (base64: string) =>
  base64.replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');

import { createDecipheriv, hkdfSync } from 'node:crypto';
import type { TestApp } from './test-app';

/**
 * The argon2id PHC string inside a stored credential hash (`kmsp1.<pepper id>.<iv>.<ciphertext>.<tag>`),
 * opened the way the format is documented: AES-256-GCM under HKDF-SHA256(pepper, 'kms/credential-hash/v1'),
 * `UserCredential:<userId>:<column>` as authenticated data. Independent of the service's code.
 */
export function openStoredHash(t: TestApp, stored: string, userId: string, column: 'pinHash' | 'passcodeHash'): string {
  const [format, pepperId, iv, ciphertext, tag] = stored.split('.');
  if (format !== 'kmsp1') throw new Error(`not a kmsp1 hash: ${format}`);
  const pepper = t.config.auth.peppers!.find((entry) => entry.id === pepperId)!.secret;
  const key = Buffer.from(hkdfSync('sha256', pepper, Buffer.alloc(0), 'kms/credential-hash/v1', 32));
  const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'));
  decipher.setAAD(Buffer.from(`UserCredential:${userId}:${column}`));
  decipher.setAuthTag(Buffer.from(tag, 'base64url'));
  return Buffer.concat([decipher.update(Buffer.from(ciphertext, 'base64url')), decipher.final()]).toString('utf8');
}

import { createHash, randomBytes } from 'node:crypto';

const PREFIX = 'kms_';
const VISIBLE_CHARS = 12;

/** A new key: `kms_` + 256 random bits, base64url. */
export function generateApiKey(): string {
  return `${PREFIX}${randomBytes(32).toString('base64url')}`;
}

/**
 * What is stored and looked up. The keys are high-entropy, so an unsalted SHA-256
 * resists guessing as well as the key itself, and the lookup by hash leaves no
 * byte-by-byte comparison to time.
 */
export function hashApiKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

/** Enough of the key to recognise it in a list, not enough to use it. */
export function visiblePrefix(key: string): string {
  return key.slice(0, VISIBLE_CHARS);
}

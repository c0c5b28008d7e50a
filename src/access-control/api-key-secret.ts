import { createHash, randomBytes } from 'node:crypto';
import type { PepperRing } from '../common';

const PREFIX = 'kms_';
const VISIBLE_CHARS = 12;
const KEYED = 'hmac1';

/** A new key: `kms_` + 256 random bits, base64url. */
export function generateApiKey(): string {
  return `${PREFIX}${randomBytes(32).toString('base64url')}`;
}

/**
 * What is stored for a generated key. Its 256 random bits make an unsalted SHA-256
 * as hard to invert as guessing the key, and the lookup by hash leaves no
 * byte-by-byte comparison to time.
 */
export function hashApiKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

/**
 * What is stored for a key a person chose (KMS_BOOTSTRAP_ADMIN_KEY), which may be
 * guessable: an HMAC-SHA256 under a key derived from a pepper of AUTH_PEPPER (never
 * in the database), `hmac1.<pepper id>.<hex>`. Still a single indexed lookup, so that
 * authentication stays one query; nothing of the key itself is kept.
 */
export function keyedApiKeyHash(key: string, peppers: PepperRing, pepperId = peppers.newestId): string {
  return `${KEYED}.${pepperId}.${peppers.hmac(pepperId, 'api-key-hash', key)}`;
}

/** Every stored form a presented key can have: generated, or chosen under any pepper of the ring. */
export function apiKeyLookupHashes(key: string, peppers: PepperRing): string[] {
  return [hashApiKey(key), ...peppers.entries.map((entry) => keyedApiKeyHash(key, peppers, entry.id))];
}

/** Enough of a generated key to recognise it in a list, not enough to use it. */
export function visiblePrefix(key: string): string {
  return key.slice(0, VISIBLE_CHARS);
}

/** A chosen key stores no prefix: nothing of it is kept but its keyed hash. */
export const CHOSEN_KEY_PREFIX = '';

import { registerEnumType } from '@nestjs/graphql';

export enum KeyStatus {
  ACTIVE = 'ACTIVE',
  DEPRECATED = 'DEPRECATED',
  REVOKED = 'REVOKED',
}
registerEnumType(KeyStatus, {
  name: 'KeyStatus',
  description: 'ACTIVE: encrypt and decrypt. DEPRECATED: decrypt only. REVOKED: refused.',
});

export interface KeyLifecycleFields {
  expiresAt: Date | null;
  deprecated: boolean;
  deprecatedAt: Date | null;
  revokedAt: Date | null;
}

const DAY_MS = 24 * 60 * 60 * 1000;

/** Status at `now`, whether or not the daily job has marked the key yet. */
export function keyStatus(key: KeyLifecycleFields, now: Date): KeyStatus {
  if (key.revokedAt) return KeyStatus.REVOKED;
  if (key.deprecated || isExpired(key, now)) return KeyStatus.DEPRECATED;
  return KeyStatus.ACTIVE;
}

export function isExpired(key: KeyLifecycleFields, now: Date): boolean {
  return key.expiresAt !== null && key.expiresAt.getTime() <= now.getTime();
}

/**
 * When the key stopped being ACTIVE (revoked, deprecated or expired), or null.
 * Retention is counted from here; after it the key is as good as deleted.
 */
export function endOfActiveLife(key: KeyLifecycleFields, now: Date): Date | null {
  const moments = [key.revokedAt, key.deprecatedAt, isExpired(key, now) ? key.expiresAt : null]
    .filter((moment): moment is Date => moment !== null)
    .map((moment) => moment.getTime());
  if (moments.length > 0) return new Date(Math.min(...moments));
  return key.deprecated ? now : null;
}

export function isPastRetention(key: KeyLifecycleFields, now: Date, retentionDays: number): boolean {
  const ended = endOfActiveLife(key, now);
  return ended !== null && now.getTime() >= ended.getTime() + retentionDays * DAY_MS;
}

/**
 * The last moment the key can decrypt anything (the earliest of revocation,
 * deprecation and expiry, plus retention), or null while none of them is known.
 */
export function decryptsUntil(key: KeyLifecycleFields, retentionDays: number): Date | null {
  const ends = [key.revokedAt, key.deprecatedAt, key.expiresAt]
    .filter((moment): moment is Date => moment !== null)
    .map((moment) => moment.getTime());
  return ends.length > 0 ? new Date(Math.min(...ends) + retentionDays * DAY_MS) : null;
}

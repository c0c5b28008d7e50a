import { registerEnumType } from '@nestjs/graphql';

/**
 * The lifecycle rules of a device key (docs/contract.md, key lifecycle), in TypeScript. Their SQL
 * forms are beside them in key-lifecycle.sql.ts; a repository test evaluates both
 * on every boundary and requires the same answers.
 */
export enum KeyStatus {
  ACTIVE = 'ACTIVE',
  DEPRECATED = 'DEPRECATED',
  REVOKED = 'REVOKED',
}
registerEnumType(KeyStatus, {
  name: 'KeyStatus',
  description: 'ACTIVE: encrypt and decrypt. DEPRECATED: decrypt only. REVOKED: refused.',
});

/**
 * The stored facts the rules read. `deprecated` implies `deprecatedAt` (a database
 * constraint): deprecation always records when.
 */
export interface KeyLifecycleFields {
  expiresAt: Date | null;
  deprecated: boolean;
  deprecatedAt: Date | null;
  revokedAt: Date | null;
}

export const DAY_MS = 24 * 60 * 60 * 1000;

/** Expired from the `expiresAt` instant on, whether or not the daily job has marked it. */
export function isExpired(key: KeyLifecycleFields, now: Date): boolean {
  return key.expiresAt !== null && key.expiresAt.getTime() <= now.getTime();
}

/** REVOKED once revoked; DEPRECATED when marked or expired; otherwise ACTIVE. */
export function keyStatus(key: KeyLifecycleFields, now: Date): KeyStatus {
  if (key.revokedAt) return KeyStatus.REVOKED;
  if (key.deprecated || isExpired(key, now)) return KeyStatus.DEPRECATED;
  return KeyStatus.ACTIVE;
}

/**
 * When the key stopped being ACTIVE at `now`: the earliest of revocation,
 * deprecation and expiry-if-passed, or null while it is active. Retention counts from here.
 */
export function endOfActiveLife(key: KeyLifecycleFields, now: Date): Date | null {
  const moments = [key.revokedAt, key.deprecatedAt, isExpired(key, now) ? key.expiresAt : null]
    .filter((moment): moment is Date => moment !== null)
    .map((moment) => moment.getTime());
  return moments.length > 0 ? new Date(Math.min(...moments)) : null;
}

/** Gone for clients (KEY_NOT_FOUND) from `retentionDays` after its active life ended, before the job deletes it. */
export function isPastRetention(key: KeyLifecycleFields, now: Date, retentionDays: number): boolean {
  const ended = endOfActiveLife(key, now);
  return ended !== null && now.getTime() >= ended.getTime() + retentionDays * DAY_MS;
}

/**
 * The last moment the key can decrypt anything: the earliest of revocation,
 * deprecation and expiry (passed or not), plus retention; null while none is known.
 * Single-use records of what it decrypted need to be kept only until then.
 */
export function decryptsUntil(key: KeyLifecycleFields, retentionDays: number): Date | null {
  const ends = [key.revokedAt, key.deprecatedAt, key.expiresAt]
    .filter((moment): moment is Date => moment !== null)
    .map((moment) => moment.getTime());
  return ends.length > 0 ? new Date(Math.min(...ends) + retentionDays * DAY_MS) : null;
}

const DAY_MS = 24 * 60 * 60 * 1000;

/** A key's lifecycle facts, in ms (absent: null). */
export interface LifecycleCase {
  revokedAt?: number;
  deprecatedAt?: number;
  expiresAt?: number;
  deprecated?: boolean;
}

/**
 * Every combination of the lifecycle facts at the boundaries that matter at `now`
 * with a retention of `retentionDays`: each moment exactly at now or at the
 * retention cutoff, 1 ms either side, long before, and ahead.
 */
export function lifecycleGrid(now: number, retentionDays: number): Record<string, LifecycleCase> {
  const cutoff = now - retentionDays * DAY_MS;
  const moments: Record<string, number | undefined> = {
    none: undefined,
    'cutoff-1ms': cutoff - 1,
    cutoff,
    'cutoff+1ms': cutoff + 1,
    'now-1ms': now - 1,
    now,
    'now+1ms': now + 1,
    'now+1d': now + DAY_MS,
  };
  const entries = Object.entries(moments);
  const grid: Record<string, LifecycleCase> = {};
  for (const [expires, expiresAt] of entries) {
    for (const [deprecatedName, deprecatedAt] of entries) {
      for (const deprecated of [false, true]) {
        for (const [revoked, revokedAt] of entries.filter(([name]) => ['none', 'cutoff', 'cutoff+1ms', 'now', 'now+1d'].includes(name))) {
          const name = `exp:${expires} dep:${deprecated ? deprecatedName : `(${deprecatedName})`} rev:${revoked}`;
          grid[name] = { expiresAt, deprecatedAt, deprecated, revokedAt };
        }
      }
    }
  }
  return grid;
}

/** Rows of ClientEncryptionKey for the cases (no key material: the rules never read it). */
export function lifecycleRows(cases: Record<string, LifecycleCase>, deviceId: string, createdAt: Date) {
  const at = (ms?: number) => (ms === undefined ? null : new Date(ms));
  return Object.entries(cases).map(([id, c], index) => ({
    id,
    deviceId,
    publicKey: 'x',
    privateKey: 'x',
    deprecated: c.deprecated ?? false,
    revokedAt: at(c.revokedAt),
    deprecatedAt: at(c.deprecatedAt),
    expiresAt: at(c.expiresAt),
    createdAt: new Date(createdAt.getTime() + index),
    updatedAt: createdAt,
  }));
}

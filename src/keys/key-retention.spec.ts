import { decryptsUntil, isPastRetention } from './key-lifecycle';

const DAY = 24 * 60 * 60 * 1000;
const at = (day: number) => new Date(Date.UTC(2026, 0, 1) + day * DAY);
const key = (fields: Partial<{ expiresAt: Date; deprecatedAt: Date; revokedAt: Date }>) => ({
  expiresAt: fields.expiresAt ?? null,
  deprecated: Boolean(fields.deprecatedAt),
  deprecatedAt: fields.deprecatedAt ?? null,
  revokedAt: fields.revokedAt ?? null,
});

describe('decryptsUntil', () => {
  it('is expiry + retention for a key that simply expires', () => {
    expect(decryptsUntil(key({ expiresAt: at(30) }), 90)).toEqual(at(120));
  });

  it('counts from the earliest end: early deprecation or revocation', () => {
    expect(decryptsUntil(key({ expiresAt: at(30), deprecatedAt: at(10) }), 90)).toEqual(at(100));
    expect(decryptsUntil(key({ expiresAt: at(30), revokedAt: at(5) }), 90)).toEqual(at(95));
  });

  it('is null while the key has no end at all', () => {
    expect(decryptsUntil(key({}), 90)).toBeNull();
  });

  it('agrees with isPastRetention: the key is gone from that moment', () => {
    const k = key({ expiresAt: at(30), deprecatedAt: at(40) });
    const end = decryptsUntil(k, 90)!;
    expect(isPastRetention(k, new Date(end.getTime() - 1), 90)).toBe(false);
    expect(isPastRetention(k, end, 90)).toBe(true);
  });
});

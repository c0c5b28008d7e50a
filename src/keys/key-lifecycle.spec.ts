import { endOfActiveLife, isPastRetention, KeyStatus, keyStatus } from './key-lifecycle';

const day = (n: number) => new Date(Date.UTC(2026, 0, 1) + n * 86_400_000);
const key = (fields: Partial<Parameters<typeof keyStatus>[0]> = {}) => ({
  expiresAt: day(30),
  deprecated: false,
  deprecatedAt: null,
  revokedAt: null,
  ...fields,
});

describe('key lifecycle', () => {
  it('is ACTIVE until expiresAt, then DEPRECATED whether or not it is marked', () => {
    expect(keyStatus(key(), day(29))).toBe(KeyStatus.ACTIVE);
    expect(keyStatus(key(), day(30))).toBe(KeyStatus.DEPRECATED);
    expect(keyStatus(key({ deprecated: true, deprecatedAt: day(5) }), day(6))).toBe(KeyStatus.DEPRECATED);
    expect(keyStatus(key({ expiresAt: null }), day(10_000))).toBe(KeyStatus.ACTIVE);
  });

  it('is REVOKED once revoked, whatever else holds', () => {
    expect(keyStatus(key({ revokedAt: day(1), deprecated: true }), day(2))).toBe(KeyStatus.REVOKED);
  });

  it('counts retention from the earliest end of active life', () => {
    expect(endOfActiveLife(key(), day(10))).toBeNull();
    expect(endOfActiveLife(key(), day(31))).toEqual(day(30));
    expect(endOfActiveLife(key({ deprecatedAt: day(3), deprecated: true }), day(31))).toEqual(day(3));
    expect(endOfActiveLife(key({ revokedAt: day(2) }), day(10))).toEqual(day(2));
  });

  it('is past retention exactly retentionDays after that end', () => {
    expect(isPastRetention(key(), day(119), 90)).toBe(false);
    expect(isPastRetention(key(), day(120), 90)).toBe(true);
    expect(isPastRetention(key({ revokedAt: day(1) }), day(91), 90)).toBe(true);
    expect(isPastRetention(key({ expiresAt: null }), day(10_000), 90)).toBe(false);
  });
});

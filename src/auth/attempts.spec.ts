import { FRESH_COUNTER, remainingAttempts, reserveAttempt } from './attempts';

const policy = { maxAttempts: 3, lockoutMs: 60_000 };
const now = new Date('2026-01-01T00:00:00Z');
const later = (ms: number) => new Date(now.getTime() + ms);

describe('reserveAttempt', () => {
  it('counts each check as a failure in advance and locks at the limit', () => {
    let counter = FRESH_COUNTER;
    const remaining: number[] = [];
    for (let i = 0; i < 3; i += 1) {
      const reservation = reserveAttempt(counter, now, policy);
      if (!reservation.granted) throw new Error('refused too early');
      counter = reservation.counter;
      remaining.push(remainingAttempts(counter, policy));
    }
    expect(remaining).toEqual([2, 1, 0]);
    expect(counter).toEqual({ failedAttempts: 3, lockedUntil: later(60_000) });
  });

  it('refuses while locked, up to the last millisecond', () => {
    const locked = { failedAttempts: 3, lockedUntil: later(60_000) };
    expect(reserveAttempt(locked, now, policy)).toEqual({ granted: false, lockedUntil: later(60_000) });
    expect(reserveAttempt(locked, later(59_999), policy).granted).toBe(false);
  });

  it('starts a fresh count once the lock has expired', () => {
    const locked = { failedAttempts: 3, lockedUntil: later(60_000) };
    expect(reserveAttempt(locked, later(60_000), policy)).toEqual({
      granted: true,
      counter: { failedAttempts: 1, lockedUntil: null },
    });
  });

  it('locks on the first failure when one attempt is allowed', () => {
    expect(reserveAttempt(FRESH_COUNTER, now, { ...policy, maxAttempts: 1 })).toEqual({
      granted: true,
      counter: { failedAttempts: 1, lockedUntil: later(60_000) },
    });
  });

  it('never reports negative remaining attempts (the limit was lowered)', () => {
    expect(remainingAttempts({ failedAttempts: 7, lockedUntil: null }, policy)).toBe(0);
  });
});

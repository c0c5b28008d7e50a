/** A credential's consecutive-failure counter and lock-out, as stored. */
export interface AttemptCounter {
  failedAttempts: number;
  lockedUntil: Date | null;
}

export interface LockoutPolicy {
  maxAttempts: number;
  lockoutMs: number;
}

export type Reservation =
  | { granted: false; lockedUntil: Date }
  | { granted: true; counter: AttemptCounter };

/**
 * Takes one check, counted as a failure before it runs (a success resets the
 * counter afterwards), so that concurrent wrong attempts can never get more
 * checks than allowed. The check that reaches the limit locks the credential.
 * An expired lock starts a fresh count.
 */
export function reserveAttempt(counter: AttemptCounter, now: Date, policy: LockoutPolicy): Reservation {
  if (counter.lockedUntil && counter.lockedUntil.getTime() > now.getTime()) {
    return { granted: false, lockedUntil: counter.lockedUntil };
  }
  const failedAttempts = (counter.lockedUntil ? 0 : counter.failedAttempts) + 1;
  const lockedUntil =
    failedAttempts >= policy.maxAttempts ? new Date(now.getTime() + policy.lockoutMs) : null;
  return { granted: true, counter: { failedAttempts, lockedUntil } };
}

export function remainingAttempts(counter: AttemptCounter, policy: LockoutPolicy): number {
  return Math.max(0, policy.maxAttempts - counter.failedAttempts);
}

export const FRESH_COUNTER: AttemptCounter = { failedAttempts: 0, lockedUntil: null };

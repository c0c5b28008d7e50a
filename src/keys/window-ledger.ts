/** A place taken in a sliding-window ledger (the per-caller budget), or when the oldest one frees up. */
export type WindowReservation =
  | { granted: true; reservationId: string }
  | { granted: false; oldestInWindow: Date };

/**
 * Whole seconds (at least 1) until the oldest place in a full window frees up: the
 * retryAfterSeconds of the per-device limit and of the per-caller budget.
 */
export function secondsUntilFree(oldestInWindow: Date, windowMs: number, now: Date): number {
  return Math.max(1, Math.ceil((oldestInWindow.getTime() + windowMs - now.getTime()) / 1000));
}

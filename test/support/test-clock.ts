import { Clock } from '../../src/common';

const DAY_MS = 24 * 60 * 60 * 1000;

/** A clock the test moves: starts at the real time, then only moves when told. */
export class TestClock extends Clock {
  private current = new Date();

  override now(): Date {
    return new Date(this.current.getTime());
  }

  set(moment: Date) {
    this.current = new Date(moment.getTime());
  }

  advanceDays(days: number) {
    this.current = new Date(this.current.getTime() + days * DAY_MS);
  }

  advanceMs(ms: number) {
    this.current = new Date(this.current.getTime() + ms);
  }
}

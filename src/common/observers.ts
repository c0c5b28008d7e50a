import type { Logger } from '@nestjs/common';

/**
 * Listeners of one kind of event (metric events, job reports, key pool refills), such
 * as the Prometheus view registers. A failing listener is logged by its error's name
 * and never stops the others or the code that announced the event.
 */
export class Observers<T> {
  private readonly listeners: ((value: T) => void)[] = [];

  constructor(
    private readonly logger: Logger,
    private readonly failureMessage: string,
  ) {}

  add(listener: (value: T) => void) {
    this.listeners.push(listener);
  }

  notify(value: T) {
    for (const listener of this.listeners) {
      try {
        listener(value);
      } catch (error) {
        this.logger.warn({ errorName: (error as Error).name }, this.failureMessage);
      }
    }
  }
}

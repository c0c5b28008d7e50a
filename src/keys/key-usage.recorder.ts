import { BeforeApplicationShutdown, Inject, Injectable, Logger, OnModuleInit } from '@nestjs/common';
import { Clock } from '../common';
import { APP_CONFIG, type AppConfig } from '../config';
import { KeysRepository } from './keys.repository';

interface PendingUse {
  count: number;
  lastUsed: Date;
}

/**
 * usageCount and lastUsed, counted in memory and written as one statement per
 * flush (every METRICS_FLUSH_INTERVAL_MS and on shutdown) instead of one committed
 * UPDATE, with its WAL flush, per decryption. At most one interval of counts is
 * lost if the process dies; the key's state is still read from the database on
 * every request, so no security decision depends on these counters.
 */
@Injectable()
export class KeyUsageRecorder implements OnModuleInit, BeforeApplicationShutdown {
  private readonly logger = new Logger(KeyUsageRecorder.name);
  private pending = new Map<string, PendingUse>();
  private timer?: NodeJS.Timeout;
  private inFlight: Promise<void> = Promise.resolve();

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly keys: KeysRepository,
    private readonly clock: Clock,
  ) {}

  onModuleInit() {
    this.timer = setInterval(() => void this.flush(), this.config.metrics.flushIntervalMs);
    this.timer.unref();
  }

  async beforeApplicationShutdown() {
    clearInterval(this.timer);
    await this.flush();
  }

  recordUse(keyId: string) {
    const now = this.clock.now();
    const use = this.pending.get(keyId);
    if (use) {
      use.count += 1;
      if (now > use.lastUsed) use.lastUsed = now;
    } else {
      this.pending.set(keyId, { count: 1, lastUsed: now });
    }
  }

  /** Writes what has been counted so far; calls queue behind each other. */
  flush(): Promise<void> {
    this.inFlight = this.inFlight.then(() => this.write());
    return this.inFlight;
  }

  private async write() {
    if (this.pending.size === 0) return;
    const batch = this.pending;
    this.pending = new Map();
    try {
      await this.keys.addUses(
        [...batch].map(([id, use]) => ({ id, count: use.count, lastUsed: use.lastUsed })),
      );
    } catch (error) {
      // Put the counts back for the next attempt.
      for (const [id, use] of batch) {
        const newer = this.pending.get(id);
        this.pending.set(id, newer
          ? { count: newer.count + use.count, lastUsed: newer.lastUsed > use.lastUsed ? newer.lastUsed : use.lastUsed }
          : use);
      }
      this.logger.warn({ errorName: (error as Error).name, keys: this.pending.size }, 'key usage not written; will retry');
    }
  }
}

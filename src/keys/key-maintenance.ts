import { Inject, Injectable } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '../config';
import type { Batch } from '../database';
import { CallerGenerationsRepository } from './caller-generations.repository';
import { BUDGET_WINDOW_MS } from './generation-budget';
import { KeysRepository } from './keys.repository';

const HOUR_MS = 60 * 60 * 1000;

/**
 * The daily job's work on the keys module's tables, one batch per call (the job
 * walks them; see key-rotation). Each call changes at most `limit` rows and says
 * where the next batch starts.
 */
@Injectable()
export class KeyMaintenance {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly keys: KeysRepository,
    private readonly callerGenerations: CallerGenerationsRepository,
  ) {}

  /** Marks expired keys deprecated (deprecatedAt = expiresAt). */
  deprecateExpiredKeys(now: Date, after: Date | null, limit: number): Promise<Batch<Date>> {
    return this.keys.deprecateExpired(now, after, limit);
  }

  /** Deletes keys past KEY_RETENTION_DAYS (already KEY_NOT_FOUND for clients). */
  deleteKeysPastRetention(now: Date, after: string | null, limit: number): Promise<Batch<string>> {
    return this.keys.deletePastRetention(now, this.config.keys.retentionDays, after, limit);
  }

  /** Deletes rate-limit ledger rows that left the KEY_GEN_WINDOW_HOURS window. */
  purgeKeyGenerations(now: Date, after: Date | null, limit: number): Promise<Batch<Date>> {
    const windowStart = new Date(now.getTime() - this.config.keys.generationWindowHours * HOUR_MS);
    return this.keys.purgeGenerationsUpTo(windowStart, after, limit);
  }

  /** Deletes per-caller budget ledger rows older than its one-minute window. */
  purgeCallerGenerations(now: Date, after: Date | null, limit: number): Promise<Batch<Date>> {
    return this.callerGenerations.purgeUpTo(new Date(now.getTime() - BUDGET_WINDOW_MS), after, limit);
  }
}

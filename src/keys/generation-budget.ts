import { Inject, Injectable } from '@nestjs/common';
import { budgetedCaller, type BudgetedCaller } from '../access-control';
import { Clock, currentRequest, type RequestContext } from '../common';
import { APP_CONFIG, type AppConfig } from '../config';
import { CallerGenerationsRepository } from './caller-generations.repository';
import { keyErrors } from './keys.errors';
import { secondsUntilFree } from './window-ledger';

export const BUDGET_WINDOW_MS = 60_000;
/**
 * retryAfterSeconds of a refusal by the per-request cap. Nothing in the service stops
 * another request from asking at once (the per-minute budget then decides); one second
 * keeps a client that retries in a loop from hammering, and is the least whole value.
 */
export const REQUEST_CAP_RETRY_AFTER_SECONDS = 1;

/**
 * The key generation budgets on top of the per-device limit (an RSA-2048 key costs
 * ~100 ms of a core on the thread pool that decryption uses too):
 * - per HTTP request: at most MAX_KEY_GEN_PER_REQUEST generations are attempted, however
 *   the request batches or aliases them; the others are refused at once, before any
 *   database or RSA work (counted in memory: a request lives in one process);
 * - per caller (API key, or remote address when anonymous): at most
 *   MAX_KEY_GEN_PER_CALLER_PER_MINUTE (or the key's KEY_GEN_CALLER_BUDGETS entry)
 *   generations started in any 60 s, counted in CallerKeyGeneration under a per-caller
 *   advisory lock, so exact across workers and replicas. A place is taken before the
 *   device's limit is checked and given back when the generation does not happen
 *   (device limit, failure), so the budget counts generations that start.
 * Outside an HTTP request (no caller) nothing is budgeted.
 */
@Injectable()
export class GenerationBudget {
  /** Generations attempted per request, by the raw request (gone with it). */
  private readonly attempts = new WeakMap<object, number>();

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly ledger: CallerGenerationsRepository,
    private readonly clock: Clock,
  ) {}

  /** Runs one key generation within the budgets of the request it serves, or refuses it (RATE_LIMITED) before it starts. */
  async spend<T>(generate: () => Promise<T>): Promise<T> {
    const request = currentRequest();
    if (!request) return generate();
    this.countAttempt(request);
    const reservationId = await this.reserve(budgetedCaller(request));
    try {
      return await generate();
    } catch (error) {
      await this.ledger.release(reservationId).catch(() => undefined);
      throw error;
    }
  }

  /** Synchronous, so that the operations of a batch, which run concurrently, count exactly. */
  private countAttempt(request: RequestContext) {
    const max = this.config.keys.maxGenerationsPerRequest;
    const attempted = this.attempts.get(request.raw) ?? 0;
    if (attempted >= max) throw keyErrors.requestCap(max, REQUEST_CAP_RETRY_AFTER_SECONDS);
    this.attempts.set(request.raw, attempted + 1);
  }

  private async reserve(caller: BudgetedCaller): Promise<string> {
    const now = this.clock.now();
    const reservation = await this.ledger.reserve(
      ledgerName(caller),
      now,
      new Date(now.getTime() - BUDGET_WINDOW_MS),
      this.perMinute(caller),
    );
    if (reservation.granted) return reservation.reservationId;
    throw keyErrors.callerBudget(secondsUntilFree(reservation.oldestInWindow, BUDGET_WINDOW_MS, now));
  }

  private perMinute(caller: BudgetedCaller): number {
    const override = caller.kind === 'api-key' ? this.config.keys.callerBudgetOverrides.get(caller.apiKeyId) : undefined;
    return override ?? this.config.keys.callerBudgetPerMinute;
  }
}

/** The ledger's `caller` value: the API key's id (never the key) or the anonymous caller's address. */
export function ledgerName(caller: BudgetedCaller): string {
  return caller.kind === 'api-key' ? `api-key:${caller.apiKeyId}` : `address:${caller.address}`;
}

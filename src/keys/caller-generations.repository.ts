import { Injectable } from '@nestjs/common';
import { Batch, deleteInsertOnlyBatch, Prisma, PrismaService } from '../database';
import { CALLER_LEDGER, releaseInWindow, reserveInWindow, WindowReservation } from './window-ledger';

/**
 * The only queries over CallerKeyGeneration (owned by the keys module), the ledger of
 * the per-caller key generation budget: one row per generation a caller started in the
 * window. Times are the service clock's, passed in.
 */
@Injectable()
export class CallerGenerationsRepository {
  constructor(private readonly prisma: PrismaService) {}

  /** Takes one of the caller's `max` generations per window, or says when the oldest frees up. */
  reserve(caller: string, now: Date, windowStart: Date, max: number): Promise<WindowReservation> {
    return reserveInWindow(this.prisma, CALLER_LEDGER, caller, now, windowStart, max);
  }

  /** Gives a generation back when it did not happen after all. */
  release(reservationId: string): Promise<void> {
    return releaseInWindow(this.prisma, CALLER_LEDGER, reservationId);
  }

  /** Ledger rows at or before the window start no longer count (the daily job's batch). */
  purgeUpTo(windowStart: Date, after: Date | null, limit: number): Promise<Batch<Date>> {
    return deleteInsertOnlyBatch(
      this.prisma,
      CALLER_LEDGER.table,
      'createdAt',
      Prisma.sql`"createdAt" <= ${windowStart}`,
      after,
      limit,
    );
  }
}

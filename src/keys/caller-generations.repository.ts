import { randomUUID } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { Batch, deleteInsertOnlyBatch, Prisma, PrismaService } from '../database';
import type { WindowReservation } from './window-ledger';

/**
 * The only queries over CallerKeyGeneration (owned by the keys module), the ledger of
 * the per-caller key generation budget: one row per generation a caller started in the
 * window. Times are the service clock's, passed in.
 */
@Injectable()
export class CallerGenerationsRepository {
  constructor(private readonly prisma: PrismaService) {}

  /**
   * Takes one of the caller's `max` places in the window (rows after `windowStart`), or
   * says when the oldest one frees up. Serialised per caller by a transaction-scoped
   * advisory lock, so concurrent calls on any number of workers and replicas count
   * exactly; the transaction is three short statements.
   */
  reserve(caller: string, now: Date, windowStart: Date, max: number): Promise<WindowReservation> {
    return this.prisma.$transaction(
      async (tx) => {
        await tx.$executeRaw`SELECT pg_advisory_xact_lock(hashtextextended(${`kms:keygen-caller:${caller}`}, 0))`;
        const inWindow = await tx.$queryRaw<{ createdAt: Date }[]>`
          SELECT "createdAt" FROM "CallerKeyGeneration"
           WHERE "caller" = ${caller} AND "createdAt" > ${windowStart}
           ORDER BY "createdAt" LIMIT ${max}`;
        if (inWindow.length >= max) return { granted: false, oldestInWindow: inWindow[0].createdAt };
        const reservationId = randomUUID();
        await tx.$executeRaw`
          INSERT INTO "CallerKeyGeneration" ("id", "caller", "createdAt") VALUES (${reservationId}, ${caller}, ${now})`;
        return { granted: true, reservationId };
      },
      { maxWait: 10_000, timeout: 10_000 },
    );
  }

  /** Gives a generation back when it did not happen after all. */
  async release(reservationId: string): Promise<void> {
    await this.prisma.$executeRaw`DELETE FROM "CallerKeyGeneration" WHERE "id" = ${reservationId}`;
  }

  /** Ledger rows at or before the window start no longer count (the daily job's batch). */
  purgeUpTo(windowStart: Date, after: Date | null, limit: number): Promise<Batch<Date>> {
    return deleteInsertOnlyBatch(
      this.prisma,
      'CallerKeyGeneration',
      'createdAt',
      Prisma.sql`"createdAt" <= ${windowStart}`,
      after,
      limit,
    );
  }
}

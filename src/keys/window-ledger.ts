import { randomUUID } from 'node:crypto';
import { Prisma, type PrismaService } from '../database';

export type WindowReservation =
  | { granted: true; reservationId: string }
  | { granted: false; oldestInWindow: Date };

/** An insert-only ledger of the keys module: one row (id, subject, createdAt) per counted event. */
export interface WindowLedger {
  table: 'CallerKeyGeneration';
  /** The column naming whom the row counts for. */
  subject: 'caller';
  /** Prefix of the advisory lock's key (the subject follows it). */
  lockPrefix: string;
}

/** The per-caller budget's ledger (MAX_KEY_GEN_PER_CALLER_PER_MINUTE). */
export const CALLER_LEDGER: WindowLedger = { table: 'CallerKeyGeneration', subject: 'caller', lockPrefix: 'kms:keygen-caller' };

/**
 * Takes one of the `max` places `subject` has in the window (rows after `windowStart`),
 * or says when the oldest one in the window frees up. Serialised per subject by a
 * transaction-scoped advisory lock, so concurrent calls on any number of workers and
 * replicas count exactly; the transaction is three short statements.
 */
export function reserveInWindow(
  prisma: PrismaService,
  ledger: WindowLedger,
  subject: string,
  now: Date,
  windowStart: Date,
  max: number,
): Promise<WindowReservation> {
  const [table, column] = [Prisma.raw(`"${ledger.table}"`), Prisma.raw(`"${ledger.subject}"`)];
  return prisma.$transaction(
    async (tx) => {
      await tx.$executeRaw`SELECT pg_advisory_xact_lock(hashtextextended(${`${ledger.lockPrefix}:${subject}`}, 0))`;
      const inWindow = await tx.$queryRaw<{ createdAt: Date }[]>`
        SELECT "createdAt" FROM ${table}
         WHERE ${column} = ${subject} AND "createdAt" > ${windowStart}
         ORDER BY "createdAt" LIMIT ${max}`;
      if (inWindow.length >= max) return { granted: false, oldestInWindow: inWindow[0].createdAt };
      const reservationId = randomUUID();
      await tx.$executeRaw`INSERT INTO ${table} ("id", ${column}, "createdAt") VALUES (${reservationId}, ${subject}, ${now})`;
      return { granted: true, reservationId };
    },
    { maxWait: 10_000, timeout: 10_000 },
  );
}

/** Whole seconds (at least 1) until the oldest place in a full window frees up: retryAfterSeconds. */
export function secondsUntilFree(oldestInWindow: Date, windowMs: number, now: Date): number {
  return Math.max(1, Math.ceil((oldestInWindow.getTime() + windowMs - now.getTime()) / 1000));
}

/** The place taken by reserveInWindow, given back. */
export async function releaseInWindow(prisma: PrismaService, ledger: WindowLedger, reservationId: string): Promise<void> {
  await prisma.$executeRaw`DELETE FROM ${Prisma.raw(`"${ledger.table}"`)} WHERE "id" = ${reservationId}`;
}

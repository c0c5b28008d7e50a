import { Injectable } from '@nestjs/common';
import { PrismaService } from '../database/prisma.service';
import type { ClientEncryptionKey } from '../generated/prisma/client';

export type StoredKey = ClientEncryptionKey;

export type GenerationReservation =
  | { granted: true; reservationId: string }
  | { granted: false; oldestInWindow: Date };

export interface NewKey {
  id: string;
  deviceId: string;
  appVersion: string | null;
  publicKey: string;
  privateKey: string;
  expiresAt: Date;
  createdAt: Date;
}

/** Thin, intention-named queries over ClientEncryptionKey and its rate-limit ledger. */
@Injectable()
export class KeysRepository {
  constructor(private readonly prisma: PrismaService) {}

  findById(id: string): Promise<StoredKey | null> {
    return this.prisma.clientEncryptionKey.findUnique({ where: { id } });
  }

  /** The newest key of the device that is neither deprecated, revoked nor expired at `now`. */
  findNewestUsable(deviceId: string, now: Date): Promise<StoredKey | null> {
    return this.prisma.clientEncryptionKey.findFirst({
      where: {
        deviceId,
        deprecated: false,
        revokedAt: null,
        OR: [{ expiresAt: null }, { expiresAt: { gt: now } }],
      },
      orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
    });
  }

  /**
   * Takes one of the device's `max` generations per window, or says when the
   * oldest one in the window frees up. Serialised per device by a transaction-scoped
   * advisory lock, so concurrent calls on any number of replicas count exactly.
   */
  reserveGeneration(
    deviceId: string,
    now: Date,
    windowStart: Date,
    max: number,
  ): Promise<GenerationReservation> {
    return this.prisma.$transaction(
      async (tx) => {
        await tx.$executeRaw`SELECT pg_advisory_xact_lock(hashtextextended(${`kms:keygen:${deviceId}`}, 0))`;
        const inWindow = await tx.keyGeneration.findMany({
          where: { deviceId, createdAt: { gt: windowStart } },
          orderBy: { createdAt: 'asc' },
          select: { createdAt: true },
          take: max,
        });
        if (inWindow.length >= max) return { granted: false, oldestInWindow: inWindow[0].createdAt };
        const reservation = await tx.keyGeneration.create({ data: { deviceId, createdAt: now } });
        return { granted: true, reservationId: reservation.id };
      },
      { maxWait: 10_000, timeout: 10_000 },
    );
  }

  /** Gives a generation back when the key could not be made after all. */
  async releaseGeneration(reservationId: string): Promise<void> {
    await this.prisma.keyGeneration.deleteMany({ where: { id: reservationId } });
  }

  insert(key: NewKey): Promise<StoredKey> {
    return this.prisma.clientEncryptionKey.create({ data: { ...key, updatedAt: key.createdAt } });
  }

  /** Adds counted uses to many keys in one statement (keys deleted meanwhile are skipped). */
  async addUses(uses: { id: string; count: number; lastUsed: Date }[]): Promise<void> {
    await this.prisma.$executeRaw`
      UPDATE "ClientEncryptionKey" AS k
      SET "usageCount" = k."usageCount" + u.count,
          "lastUsed" = GREATEST(k."lastUsed", u.last_used),
          "updatedAt" = GREATEST(k."updatedAt", u.last_used)
      FROM unnest(${uses.map((use) => use.id)}::text[],
                  ${uses.map((use) => use.count)}::int[],
                  ${uses.map((use) => use.lastUsed)}::timestamptz[]) AS u(id, count, last_used)
      WHERE k.id = u.id`;
  }
}

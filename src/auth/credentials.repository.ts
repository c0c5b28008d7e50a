import { Injectable } from '@nestjs/common';
import { Batch, deleteInsertOnlyBatch, Prisma, PrismaService } from '../database';
import type { AttemptCounter } from './attempts';
import { authErrors } from './auth.errors';
import type { CredentialKind } from './credential-kind';

type Db = Prisma.TransactionClient;

export interface ConsumedRecord {
  hash: string;
  keyId: string;
  consumedAt: Date;
  expiresAt: Date;
}

export interface StoredAttemptState extends AttemptCounter {
  hash: string | null;
}

/** The auth module's tables: UserCredential rows (per kind) and the single-use ciphertext records. */
@Injectable()
export class CredentialsRepository {
  constructor(private readonly prisma: PrismaService) {}

  /** Replay records whose key can no longer decrypt: nothing left to replay (the daily job, by batch). */
  purgeSpentCiphertexts(now: Date, after: Date | null, limit: number): Promise<Batch<Date>> {
    return deleteInsertOnlyBatch(this.prisma, 'ConsumedCiphertext', 'expiresAt', Prisma.sql`"expiresAt" <= ${now}`, after, limit);
  }

  /**
   * Records the ciphertexts as consumed, then runs `work`, in one transaction (one
   * commit, whatever `work` finds). When any of them was consumed before, throws
   * CIPHERTEXT_REPLAYED and consumes none: the primary key decides between racing
   * submissions (ON CONFLICT DO NOTHING waits for the other to commit). The same
   * statement createMany({ skipDuplicates }) makes, written out: Prisma caches no plan
   * for createMany and compiled it anew on every verification (about 5 % of the
   * event loop's time per verifyPasscode, bench:encryption profile).
   */
  consumeThen<T>(records: ConsumedRecord[], work: (db: Db) => Promise<T>): Promise<T> {
    return this.prisma.$transaction(
      async (db) => {
        const rows = records.map(({ hash, keyId, consumedAt, expiresAt }) => Prisma.sql`(${hash}, ${keyId}, ${consumedAt}, ${expiresAt})`);
        const count = await db.$executeRaw`
          INSERT INTO "ConsumedCiphertext" ("hash", "keyId", "consumedAt", "expiresAt")
          VALUES ${Prisma.join(rows)}
          ON CONFLICT ("hash") DO NOTHING`;
        if (count < records.length) throw authErrors.replayed();
        return work(db);
      },
      { maxWait: 10_000, timeout: 10_000 },
    );
  }

  /**
   * The kind's hash and counters, row-locked until the transaction ends. A user
   * without a row gets one with no hashes, so that their attempts are counted too.
   */
  async lockAttemptState(db: Db, kind: CredentialKind, userId: string, now: Date): Promise<StoredAttemptState> {
    const { hash, failedAttempts, lockedUntil } = columns(kind);
    // One statement that inserts or locks: with an insert then a SELECT ... FOR UPDATE,
    // a placeholder purged in between left no row to lock.
    const rows = await db.$queryRaw<StoredAttemptState[]>`
      INSERT INTO "UserCredential" ("userId", "createdAt", "updatedAt") VALUES (${userId}, ${now}, ${now})
      ON CONFLICT ("userId") DO UPDATE SET "userId" = EXCLUDED."userId"
      RETURNING ${hash} AS "hash", ${failedAttempts} AS "failedAttempts", ${lockedUntil} AS "lockedUntil"`;
    return rows[0];
  }

  /**
   * Deletes, by batch, rows with neither hash (made only to count an unknown user's
   * attempts) that nobody has tried after `quietSince` and that no lock holds at
   * `now`. An attempt moves `updatedAt` past `quietSince`, so a row that changes
   * meanwhile stops matching, as the batch walk needs.
   */
  purgePlaceholders(now: Date, quietSince: Date, after: Date | null, limit: number): Promise<Batch<Date>> {
    return deleteInsertOnlyBatch(
      this.prisma,
      'UserCredential',
      'updatedAt',
      Prisma.sql`"passcodeHash" IS NULL AND "pinHash" IS NULL AND "updatedAt" <= ${quietSince}
        AND COALESCE("passcodeLockedUntil", '-infinity') <= ${now} AND COALESCE("pinLockedUntil", '-infinity') <= ${now}`,
      after,
      limit,
    );
  }

  async saveAttempts(
    kind: CredentialKind,
    userId: string,
    counter: AttemptCounter,
    now: Date,
    db: Db = this.prisma,
  ): Promise<void> {
    const { failedAttempts, lockedUntil } = columns(kind);
    await db.$executeRaw`
      UPDATE "UserCredential"
      SET ${failedAttempts} = ${counter.failedAttempts}, ${lockedUntil} = ${counter.lockedUntil},
          "updatedAt" = ${now}
      WHERE "userId" = ${userId}`;
  }

  /** Stores the first hash of this kind for the user; false when one exists already. */
  async insertHashIfAbsent(
    db: Db,
    kind: CredentialKind,
    userId: string,
    newHash: string,
    now: Date,
  ): Promise<boolean> {
    const { hash, failedAttempts, lockedUntil } = columns(kind);
    const rows = await db.$queryRaw<unknown[]>`
      INSERT INTO "UserCredential" ("userId", ${hash}, "createdAt", "updatedAt")
      VALUES (${userId}, ${newHash}, ${now}, ${now})
      ON CONFLICT ("userId") DO UPDATE
        SET ${hash} = EXCLUDED.${hash}, ${failedAttempts} = 0, ${lockedUntil} = NULL,
            "updatedAt" = EXCLUDED."updatedAt"
        WHERE "UserCredential".${hash} IS NULL
      RETURNING "userId"`;
    return rows.length === 1;
  }

  /** Up to `limit` users with a credential, after `after` in user id order. */
  hashesAfter(after: string | null, limit: number): Promise<StoredHashes[]> {
    return this.prisma.userCredential.findMany({
      where: {
        ...(after === null ? {} : { userId: { gt: after } }),
        OR: [{ passcodeHash: { not: null } }, { pinHash: { not: null } }],
      },
      select: { userId: true, passcodeHash: true, pinHash: true },
      orderBy: { userId: 'asc' },
      take: limit,
    });
  }

  /** Swaps one stored hash for another form of the same hash; counters untouched. False when it changed meanwhile. */
  async swapHash(kind: CredentialKind, userId: string, oldHash: string, newHash: string): Promise<boolean> {
    const { hash } = columns(kind);
    const changed = await this.prisma.$executeRaw`
      UPDATE "UserCredential" SET ${hash} = ${newHash}
      WHERE "userId" = ${userId} AND ${hash} = ${oldHash}`;
    return changed === 1;
  }

  /**
   * Replaces the hash that was verified, and clears the counters; false when it
   * changed meanwhile (a concurrent change won).
   */
  async replaceHash(
    kind: CredentialKind,
    userId: string,
    verifiedHash: string,
    newHash: string,
    now: Date,
  ): Promise<boolean> {
    const { hash, failedAttempts, lockedUntil } = columns(kind);
    const changed = await this.prisma.$executeRaw`
      UPDATE "UserCredential"
      SET ${hash} = ${newHash}, ${failedAttempts} = 0, ${lockedUntil} = NULL, "updatedAt" = ${now}
      WHERE "userId" = ${userId} AND ${hash} = ${verifiedHash}`;
    return changed === 1;
  }
}

/** A page of stored hashes, by user id, for maintenance that walks every credential. */
export interface StoredHashes {
  userId: string;
  passcodeHash: string | null;
  pinHash: string | null;
}

/** The kind's column names as SQL identifiers (fixed strings from CredentialKind, never input). */
function columns(kind: CredentialKind) {
  const identifier = (name: string) => Prisma.raw(`"${name}"`);
  return {
    hash: identifier(kind.columns.hash),
    failedAttempts: identifier(kind.columns.failedAttempts),
    lockedUntil: identifier(kind.columns.lockedUntil),
  };
}

import { repositoryDatabase, RepositoryDatabase } from '../../test/support/repository-database';
import { PrismaService } from '../database';
import { PASSCODE, TRANSACTION_PIN } from './credential-kind';
import { ConsumedRecord, CredentialsRepository } from './credentials.repository';

const NOW = new Date('2026-06-01T12:00:00.000Z');
const record = (hash: string, expiresAt = new Date(NOW.getTime() + 1000)): ConsumedRecord => ({
  hash,
  keyId: 'key',
  consumedAt: NOW,
  expiresAt,
});

describe('CredentialsRepository', () => {
  let db: RepositoryDatabase;
  let credentials: CredentialsRepository;
  beforeAll(async () => {
    db = await repositoryDatabase();
    credentials = new CredentialsRepository(db.prisma);
  });
  afterAll(() => db.close());
  afterEach(async () => {
    await db.prisma.consumedCiphertext.deleteMany();
    await db.prisma.userCredential.deleteMany();
  });

  describe('single-use ciphertexts', () => {
    it('consumes all of a submission or none: one already used refuses the whole, and runs nothing', async () => {
      await credentials.consumeThen([record('a')], async () => undefined);
      const work = jest.fn();
      await expect(credentials.consumeThen([record('b'), record('a')], work)).rejects.toMatchObject({
        code: 'CIPHERTEXT_REPLAYED',
      });
      expect(work).not.toHaveBeenCalled();
      expect((await db.prisma.consumedCiphertext.findMany()).map((row) => row.hash)).toEqual(['a']);
    });

    it('records each ciphertext with its key and times, and refuses one submitted twice at once', async () => {
      const expiresAt = new Date('2026-07-01T00:00:00.123Z');
      await credentials.consumeThen([{ hash: 'd', keyId: 'key-d', consumedAt: NOW, expiresAt }], async () => undefined);
      expect(await db.prisma.consumedCiphertext.findMany()).toEqual([{ hash: 'd', keyId: 'key-d', consumedAt: NOW, expiresAt }]);
      await expect(credentials.consumeThen([record('e'), record('e')], async () => undefined)).rejects.toMatchObject({
        code: 'CIPHERTEXT_REPLAYED',
      });
      expect(await db.prisma.consumedCiphertext.count()).toBe(1);
    });

    it('lets exactly one of two instances racing with the same ciphertext through', async () => {
      const other = new PrismaService(db.config);
      try {
        const results = await Promise.allSettled([
          credentials.consumeThen([record('raced')], async () => 'first'),
          new CredentialsRepository(other).consumeThen([record('raced')], async () => 'second'),
        ]);
        expect(results.filter((result) => result.status === 'fulfilled')).toHaveLength(1);
        expect(results.filter((result) => result.status === 'rejected')).toEqual([
          expect.objectContaining({ reason: expect.objectContaining({ code: 'CIPHERTEXT_REPLAYED' }) }),
        ]);
      } finally {
        await other.$disconnect();
      }
    });

    it('undoes the consumption when the work fails', async () => {
      await expect(credentials.consumeThen([record('c')], () => Promise.reject(new Error('argon2 failed')))).rejects.toThrow();
      expect(await db.prisma.consumedCiphertext.count()).toBe(0);
    });

    it('purges, by batch, the records whose key decrypts no more (expiresAt at or before now)', async () => {
      await db.prisma.consumedCiphertext.createMany({
        data: [record('spent', NOW), record('spent-earlier', new Date(NOW.getTime() - 1)), record('live')],
      });
      expect(await credentials.purgeSpentCiphertexts(NOW, null, 10)).toMatchObject({ changed: 2 });
      expect((await db.prisma.consumedCiphertext.findMany()).map((row) => row.hash)).toEqual(['live']);
    });
  });

  describe('credentials', () => {
    it('gives an unknown user a row of their own on first check, so that their attempts count too', async () => {
      const state = await db.prisma.$transaction((tx) => credentials.lockAttemptState(tx, PASSCODE, 'nobody', NOW));
      expect(state).toEqual({ hash: null, failedAttempts: 0, lockedUntil: null });
      expect(await db.prisma.userCredential.count({ where: { userId: 'nobody' } })).toBe(1);
    });

    it('locks the row it counts on even when a purge deletes it in between (insert-or-lock in one statement)', async () => {
      await db.prisma.userCredential.create({ data: { userId: 'ghost', passcodeFailedAttempts: 2, createdAt: NOW, updatedAt: NOW } });
      const purger = new PrismaService(db.config);
      try {
        // The purge runs right after our first statement; with an insert followed by a
        // SELECT ... FOR UPDATE it landed between the two and left nothing to lock.
        const purgeAfterFirstStatement = (tx: Parameters<typeof credentials.lockAttemptState>[0]) => {
          let purged: Promise<unknown> | undefined;
          const after = async <T>(statement: Promise<T>) => {
            const result = await statement;
            purged ??= purger.userCredential.deleteMany({ where: { userId: 'ghost' } });
            // A purge that has to wait for our row lock is what we want: give up waiting on it.
            await Promise.race([purged, new Promise((resolve) => setTimeout(resolve, 500))]);
            return result;
          };
          return new Proxy(tx, {
            get: (target, name) => {
              const value = Reflect.get(target, name) as unknown;
              if (name !== '$executeRaw' && name !== '$queryRaw') return value;
              return (...args: unknown[]) => after((value as (...a: unknown[]) => Promise<unknown>).apply(target, args));
            },
          });
        };
        const state = await db.prisma.$transaction((tx) =>
          credentials.lockAttemptState(purgeAfterFirstStatement(tx), PASSCODE, 'ghost', NOW),
        );
        expect(state).toEqual({ hash: null, failedAttempts: 2, lockedUntil: null });
      } finally {
        await purger.$disconnect();
      }
    });

    it('purges, by batch, rows with no hash that nobody tried since the quiet time and no lock holds', async () => {
      const minutesAgo = (minutes: number) => new Date(NOW.getTime() - minutes * 60_000);
      const quietSince = minutesAgo(15);
      const rows = [
        { userId: 'quiet-1', updatedAt: minutesAgo(60) },
        { userId: 'quiet-2', updatedAt: minutesAgo(16) },
        { userId: 'recent', updatedAt: minutesAgo(5) },
        { userId: 'locked', updatedAt: minutesAgo(60), pinLockedUntil: new Date(NOW.getTime() + 60_000) },
        { userId: 'lock-over', updatedAt: minutesAgo(60), passcodeLockedUntil: minutesAgo(30) },
        { userId: 'has-passcode', updatedAt: minutesAgo(60), passcodeHash: 'h' },
        { userId: 'has-pin', updatedAt: minutesAgo(60), pinHash: 'p' },
      ];
      await db.prisma.userCredential.createMany({ data: rows.map((row) => ({ createdAt: minutesAgo(90), ...row })) });
      const first = await credentials.purgePlaceholders(NOW, quietSince, null, 2);
      const second = await credentials.purgePlaceholders(NOW, quietSince, first.cursor, 2);
      expect([first.changed, second.changed]).toEqual([2, 1]);
      const left = await db.prisma.userCredential.findMany({ orderBy: { userId: 'asc' } });
      expect(left.map((row) => row.userId)).toEqual(['has-passcode', 'has-pin', 'locked', 'recent']);
    });

    it('stores a first hash per kind, never overwrites one, and keeps the kinds apart', async () => {
      const insert = (kind: typeof PASSCODE, hash: string) =>
        db.prisma.$transaction((tx) => credentials.insertHashIfAbsent(tx, kind, 'u', hash, NOW));
      expect(await insert(PASSCODE, 'h1')).toBe(true);
      expect(await insert(PASSCODE, 'h2')).toBe(false);
      expect(await insert(TRANSACTION_PIN, 'p1')).toBe(true);
      const row = await db.prisma.userCredential.findUniqueOrThrow({ where: { userId: 'u' } });
      expect({ passcode: row.passcodeHash, pin: row.pinHash }).toEqual({ passcode: 'h1', pin: 'p1' });
    });

    it('replaces only the hash that was verified, clearing its counters and not the other kind', async () => {
      await db.prisma.userCredential.create({
        data: {
          userId: 'u',
          passcodeHash: 'old',
          passcodeFailedAttempts: 3,
          pinHash: 'pin',
          pinFailedAttempts: 2,
          createdAt: NOW,
          updatedAt: NOW,
        },
      });
      expect(await credentials.replaceHash(PASSCODE, 'u', 'stale', 'new', NOW)).toBe(false);
      expect(await credentials.replaceHash(PASSCODE, 'u', 'old', 'new', NOW)).toBe(true);
      const row = await db.prisma.userCredential.findUniqueOrThrow({ where: { userId: 'u' } });
      expect(row).toMatchObject({ passcodeHash: 'new', passcodeFailedAttempts: 0, pinHash: 'pin', pinFailedAttempts: 2 });
    });
  });
});

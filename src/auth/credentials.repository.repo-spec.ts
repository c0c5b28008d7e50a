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

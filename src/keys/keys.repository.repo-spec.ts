import { repositoryDatabase, RepositoryDatabase } from '../../test/support/repository-database';
import { PrismaService } from '../database';
import { KeysRepository } from './keys.repository';

const NOW = new Date('2026-06-01T12:00:00.000Z');
const HOUR_MS = 60 * 60 * 1000;
const minutesAgo = (minutes: number) => new Date(NOW.getTime() - minutes * 60_000);

const key = (id: string, fields: Record<string, unknown> = {}) => ({
  id,
  deviceId: 'device',
  publicKey: 'pem',
  privateKey: `kms1.old.${id}`,
  expiresAt: new Date(NOW.getTime() + HOUR_MS),
  createdAt: minutesAgo(60),
  updatedAt: minutesAgo(60),
  ...fields,
});

describe('KeysRepository', () => {
  let db: RepositoryDatabase;
  let keys: KeysRepository;
  beforeAll(async () => {
    db = await repositoryDatabase();
    keys = new KeysRepository(db.prisma);
  });
  afterAll(() => db.close());
  afterEach(async () => {
    await db.prisma.clientEncryptionKey.deleteMany();
    await db.prisma.keyGeneration.deleteMany();
  });

  describe('the generation ledger', () => {
    const windowStart = new Date(NOW.getTime() - 24 * HOUR_MS);

    it('grants exactly `max` of 20 simultaneous reservations for one device from four instances', async () => {
      // Four Prisma clients (four pools) on one database, as four app instances would be.
      const clients = Array.from({ length: 4 }, () => new PrismaService(db.config));
      try {
        const instances = clients.map((client) => new KeysRepository(client));
        const results = await Promise.all(
          Array.from({ length: 20 }, (_, i) => instances[i % 4].reserveGeneration('burst', NOW, windowStart, 5)),
        );
        expect(results.filter((result) => result.granted)).toHaveLength(5);
        expect(await db.prisma.keyGeneration.count({ where: { deviceId: 'burst' } })).toBe(5);
      } finally {
        await Promise.all(clients.map((client) => client.$disconnect()));
      }
    });

    it('counts only reservations after the window start, and says when the oldest frees up', async () => {
      await db.prisma.keyGeneration.createMany({
        data: [
          { deviceId: 'd', createdAt: windowStart }, // at the start: outside the window
          { deviceId: 'd', createdAt: new Date(windowStart.getTime() + 1) },
          { deviceId: 'd', createdAt: minutesAgo(30) },
          { deviceId: 'other', createdAt: minutesAgo(1) },
        ],
      });
      expect(await keys.reserveGeneration('d', NOW, windowStart, 3)).toMatchObject({ granted: true });
      expect(await keys.reserveGeneration('d', NOW, windowStart, 3)).toEqual({
        granted: false,
        oldestInWindow: new Date(windowStart.getTime() + 1),
      });
    });

    it('gives a reservation back', async () => {
      const reservation = await keys.reserveGeneration('d', NOW, windowStart, 1);
      if (!reservation.granted) throw new Error('expected a reservation');
      expect(await keys.reserveGeneration('d', NOW, windowStart, 1)).toMatchObject({ granted: false });
      await keys.releaseGeneration(reservation.reservationId);
      expect(await keys.reserveGeneration('d', NOW, windowStart, 1)).toMatchObject({ granted: true });
    });

    it('purges, in batches walking createdAt, the rows at or before the window start only', async () => {
      await db.prisma.keyGeneration.createMany({
        data: [
          ...Array.from({ length: 5 }, (_, i) => ({ deviceId: 'old', createdAt: new Date(windowStart.getTime() - i) })),
          { deviceId: 'kept', createdAt: new Date(windowStart.getTime() + 1) },
        ],
      });
      const first = await keys.purgeGenerationsUpTo(windowStart, null, 3);
      // Oldest first: the three oldest, and the next batch starts at the newest of them.
      expect(first).toEqual({ changed: 3, cursor: new Date(windowStart.getTime() - 2) });
      expect(await keys.purgeGenerationsUpTo(windowStart, first.cursor, 3)).toMatchObject({ changed: 2 });
      expect((await db.prisma.keyGeneration.findMany()).map((row) => row.deviceId)).toEqual(['kept']);
    });
  });

  it('adds counted uses to many keys in one statement, skipping keys deleted meanwhile', async () => {
    await db.prisma.clientEncryptionKey.createMany({ data: [key('a', { usageCount: 2 }), key('b')] });
    await keys.addUses([
      { id: 'a', count: 3, lastUsed: minutesAgo(5) },
      { id: 'b', count: 1, lastUsed: minutesAgo(90) },
      { id: 'gone', count: 7, lastUsed: NOW },
    ]);
    const rows = await db.prisma.clientEncryptionKey.findMany({ orderBy: { id: 'asc' } });
    expect(rows.map(({ id, usageCount, lastUsed, updatedAt }) => ({ id, usageCount, lastUsed, updatedAt }))).toEqual([
      { id: 'a', usageCount: 5, lastUsed: minutesAgo(5), updatedAt: minutesAgo(5) },
      // An older use never moves updatedAt back.
      { id: 'b', usageCount: 1, lastUsed: minutesAgo(90), updatedAt: minutesAgo(60) },
    ]);
  });

  it('deprecates only keys neither deprecated nor revoked, and keeps the first revocation', async () => {
    await db.prisma.clientEncryptionKey.createMany({
      data: [
        key('usable'),
        key('revoked', { revokedAt: minutesAgo(10), revokedReason: 'first' }),
        key('deprecated', { deprecated: true, deprecatedAt: minutesAgo(20) }),
      ],
    });
    expect(await keys.deprecate(['usable', 'revoked', 'deprecated', 'unknown'], NOW)).toBe(1);
    expect((await keys.findById('deprecated'))?.deprecatedAt).toEqual(minutesAgo(20));
    const again = await keys.revoke('revoked', NOW, 'second');
    expect(again?.revokedAt).toEqual(minutesAgo(10));
    expect((await db.prisma.clientEncryptionKey.findUnique({ where: { id: 'revoked' } }))?.revokedReason).toBe('first');
    expect(await keys.revoke('unknown', NOW, 'x')).toBeNull();
  });

  it('re-wraps only rows still holding what was read, walking ids past those already re-wrapped', async () => {
    await db.prisma.clientEncryptionKey.createMany({
      data: [key('k1'), key('k2', { privateKey: 'kms1.new.k2' }), key('k3')],
    });
    expect((await keys.findWrappedOutside('kms1.new.', '', 10)).map((row) => row.id)).toEqual(['k1', 'k3']);
    expect((await keys.findWrappedOutside('kms1.new.', 'k1', 10)).map((row) => row.id)).toEqual(['k3']);
    expect(await keys.replaceWrapped('k1', 'kms1.old.k1', 'kms1.new.k1')).toBe(true);
    expect(await keys.replaceWrapped('k3', 'kms1.old.stale', 'kms1.new.k3')).toBe(false);
    expect((await keys.findStoredById('k3'))?.privateKey).toBe('kms1.old.k3');
  });

  it('never returns the wrapped private key but where asked for it', async () => {
    await db.prisma.clientEncryptionKey.create({ data: key('k') });
    for (const record of [
      await keys.findById('k'),
      await keys.findNewestActive('device', NOW),
      ...(await keys.findKeysOfDevice('device')),
      await keys.revoke('k', NOW, 'x'),
    ]) {
      expect(record).not.toHaveProperty('privateKey');
    }
    expect(await keys.findStoredById('k')).toHaveProperty('privateKey');
  });
});

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

const windowStart = new Date(NOW.getTime() - 24 * HOUR_MS);
const limit = (deviceId: string, max: number) => ({ deviceId, now: NOW, windowStart, max });
const owner = (deviceId: string) => ({
  deviceId,
  appVersion: null,
  expiresAt: new Date(NOW.getTime() + HOUR_MS),
  createdAt: NOW,
});
const pair = (id: string) => ({ id, publicKey: `pem-${id}`, privateKey: `kms1.new.${id}` });

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
    await db.prisma.keyPoolPair.deleteMany();
  });

  describe('the generation ledger', () => {

    it('grants exactly `max` of 20 simultaneous key creations for one device from four instances', async () => {
      // Four Prisma clients (four pools) on one database, as four app instances would be.
      const clients = Array.from({ length: 4 }, () => new PrismaService(db.config));
      try {
        const instances = clients.map((client) => new KeysRepository(client));
        const results = await Promise.all(
          Array.from({ length: 20 }, (_, i) =>
            instances[i % 4].createWithinLimit(limit('burst', 5), owner('burst'), pair(`burst-${i}`)),
          ),
        );
        expect(results.filter((result) => result.outcome === 'created')).toHaveLength(5);
        expect(await db.prisma.keyGeneration.count({ where: { deviceId: 'burst' } })).toBe(5);
        expect(await db.prisma.clientEncryptionKey.count({ where: { deviceId: 'burst' } })).toBe(5);
      } finally {
        await Promise.all(clients.map((client) => client.$disconnect()));
      }
    });

    it('counts only generations after the window start, and says when the oldest frees up', async () => {
      await db.prisma.keyGeneration.createMany({
        data: [
          { deviceId: 'd', createdAt: windowStart }, // at the start: outside the window
          { deviceId: 'd', createdAt: new Date(windowStart.getTime() + 1) },
          { deviceId: 'd', createdAt: minutesAgo(30) },
          { deviceId: 'other', createdAt: minutesAgo(1) },
        ],
      });
      expect(await keys.createWithinLimit(limit('d', 3), owner('d'), pair('k1'))).toMatchObject({ outcome: 'created' });
      expect(await keys.createWithinLimit(limit('d', 3), owner('d'), pair('k2'))).toEqual({
        outcome: 'refused',
        oldestInWindow: new Date(windowStart.getTime() + 1),
      });
      expect(await db.prisma.clientEncryptionKey.count()).toBe(1);
    });

    it('writes neither the ledger row nor the key when the key cannot be inserted', async () => {
      await db.prisma.clientEncryptionKey.create({ data: key('taken') });
      await expect(keys.createWithinLimit(limit('d', 5), owner('d'), pair('taken'))).rejects.toThrow();
      expect(await db.prisma.keyGeneration.count()).toBe(0);
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
    const outside = async (after: string) =>
      (await keys.findWrappedOutside('ClientEncryptionKey', 'kms1.new.', after, 10)).map((row) => row.id);
    expect(await outside('')).toEqual(['k1', 'k3']);
    expect(await outside('k1')).toEqual(['k3']);
    expect(await keys.replaceWrapped('ClientEncryptionKey', 'k1', 'kms1.old.k1', 'kms1.new.k1')).toBe(true);
    expect(await keys.replaceWrapped('ClientEncryptionKey', 'k3', 'kms1.old.stale', 'kms1.new.k3')).toBe(false);
    expect((await keys.findStoredById('k3'))?.privateKey).toBe('kms1.old.k3');
  });

  it('re-wraps pool pairs the same way, table by table', async () => {
    await db.prisma.clientEncryptionKey.create({ data: key('k1') });
    await db.prisma.keyPoolPair.createMany({
      data: [
        { ...pair('p1'), privateKey: 'kms1.old.p1', createdAt: NOW },
        { ...pair('p2'), createdAt: NOW },
      ],
    });
    expect(await keys.findWrappedOutside('KeyPoolPair', 'kms1.new.', '', 10)).toEqual([{ id: 'p1', privateKey: 'kms1.old.p1' }]);
    expect(await keys.replaceWrapped('KeyPoolPair', 'p1', 'kms1.old.p1', 'kms1.new.p1')).toBe(true);
    expect(await keys.findWrappedOutside('KeyPoolPair', 'kms1.new.', '', 10)).toEqual([]);
    expect((await db.prisma.clientEncryptionKey.findUniqueOrThrow({ where: { id: 'k1' } })).privateKey).toBe('kms1.old.k1');
  });

  describe('the key pool', () => {
    const addPairs = (ids: string[], createdAt = minutesAgo(1)) =>
      db.prisma.keyPoolPair.createMany({ data: ids.map((id, i) => ({ ...pair(id), createdAt: new Date(createdAt.getTime() + i) })) });
    const claim = (repository: KeysRepository, deviceId: string, freshAfter = minutesAgo(60)) =>
      repository.createWithinLimit(limit(deviceId, 5), owner(deviceId), { claimFromPool: { freshAfter } });

    it('moves the oldest fresh pair into ClientEncryptionKey under its id, wrapped value untouched', async () => {
      await addPairs(['stale'], minutesAgo(61));
      await addPairs(['older', 'newer']);
      const created = await claim(keys, 'd');
      expect(created).toMatchObject({ outcome: 'created', key: { id: 'older', deviceId: 'd', publicKey: 'pem-older' } });
      expect((await keys.findStoredById('older'))?.privateKey).toBe('kms1.new.older');
      expect((await db.prisma.keyPoolPair.findMany({ orderBy: { id: 'asc' } })).map((row) => row.id)).toEqual(['newer', 'stale']);
      expect(await db.prisma.keyGeneration.count({ where: { deviceId: 'd' } })).toBe(1);
    });

    it('claims nothing and writes nothing when no fresh pair is left, or none is asked for', async () => {
      await addPairs(['stale'], minutesAgo(61));
      expect(await claim(keys, 'd')).toEqual({ outcome: 'no-pair' });
      expect(await keys.createWithinLimit(limit('d', 5), owner('d'), { claimFromPool: null })).toEqual({ outcome: 'no-pair' });
      expect(await db.prisma.keyGeneration.count()).toBe(0);
      expect(await keys.countPoolPairs()).toBe(1);
    });

    it('takes no pair for a device at its limit', async () => {
      await addPairs(['p1']);
      await db.prisma.keyGeneration.create({ data: { deviceId: 'full', createdAt: minutesAgo(5) } });
      expect(await keys.createWithinLimit(limit('full', 1), owner('full'), { claimFromPool: { freshAfter: minutesAgo(60) } }))
        .toMatchObject({ outcome: 'refused' });
      expect(await keys.countPoolPairs()).toBe(1);
    });

    it('hands every pair out once to 40 concurrent claims from four instances, never waiting on a locked one', async () => {
      const ids = Array.from({ length: 30 }, (_, i) => `pair-${String(i).padStart(2, '0')}`);
      await addPairs(ids);
      const clients = Array.from({ length: 4 }, () => new PrismaService(db.config));
      try {
        const instances = clients.map((client) => new KeysRepository(client));
        const results = await Promise.all(
          Array.from({ length: 40 }, (_, i) => claim(instances[i % 4], `device-${i}`)),
        );
        const claimed = results.flatMap((result) => (result.outcome === 'created' ? [result.key.id] : []));
        expect(claimed.sort()).toEqual(ids);
        expect(results.filter((result) => result.outcome === 'no-pair')).toHaveLength(10);
        expect(await keys.countPoolPairs()).toBe(0);
        expect(await db.prisma.clientEncryptionKey.count()).toBe(30);
      } finally {
        await Promise.all(clients.map((client) => client.$disconnect()));
      }
    });

    it('skips a pair another transaction holds instead of waiting for it', async () => {
      await addPairs(['held', 'free']);
      let release!: () => void;
      const held = new Promise<void>((resolve) => (release = resolve));
      let locked!: () => void;
      const isLocked = new Promise<void>((resolve) => (locked = resolve));
      const holder = db.prisma.$transaction(async (tx) => {
        await tx.$queryRaw`SELECT 1 FROM "KeyPoolPair" WHERE "id" = 'held' FOR UPDATE`;
        locked();
        await held;
      }, { timeout: 10_000 });
      await isLocked;
      try {
        expect(await claim(keys, 'd')).toMatchObject({ outcome: 'created', key: { id: 'free' } });
      } finally {
        release();
        await holder;
      }
    });

    it('refills one turn at a time across instances: a second refiller gets no turn', async () => {
      const other = new PrismaService(db.config);
      try {
        let generating!: () => void;
        const started = new Promise<void>((resolve) => (generating = resolve));
        let finish!: () => void;
        const finished = new Promise<void>((resolve) => (finish = resolve));
        const first = keys.refillTurn(minutesAgo(60), () => true, async () => {
          generating();
          await finished;
          return { ...pair('made'), createdAt: NOW };
        });
        await started;
        const make = jest.fn();
        expect(await new KeysRepository(other).refillTurn(minutesAgo(60), () => true, make)).toEqual({ turn: false });
        expect(make).not.toHaveBeenCalled();
        finish();
        expect(await first).toEqual({ turn: true, discarded: 0, count: 1, added: true });
      } finally {
        await other.$disconnect();
      }
    });

    it('discards pairs at or past the age limit, and adds one only when wanted', async () => {
      await addPairs(['stale'], minutesAgo(60));
      await addPairs(['fresh']);
      const make = jest.fn();
      expect(await keys.refillTurn(minutesAgo(60), (count) => count < 1, make)).toEqual({
        turn: true,
        discarded: 1,
        count: 1,
        added: false,
      });
      expect(make).not.toHaveBeenCalled();
      expect((await db.prisma.keyPoolPair.findMany()).map((row) => row.id)).toEqual(['fresh']);
    });
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

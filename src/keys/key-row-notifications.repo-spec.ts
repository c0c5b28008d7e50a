import { Client } from 'pg';
import { setTimeout as sleep } from 'node:timers/promises';
import { repositoryDatabase, RepositoryDatabase } from '../../test/support/repository-database';
import { DEVICE_KEY_CHANGED } from './key-row-cache';
import { KeysRepository } from './keys.repository';

const NOW = new Date('2026-06-01T12:00:00.000Z');

/** The triggers of migration cache_invalidation_notifications, seen by a listener as the caches see them. */
describe('device key change notifications', () => {
  let db: RepositoryDatabase;
  let keys: KeysRepository;
  let listener: Client;
  const received: string[] = [];
  beforeAll(async () => {
    db = await repositoryDatabase();
    keys = new KeysRepository(db.prisma);
    listener = new Client({ connectionString: db.config.database.url });
    await listener.connect();
    listener.on('notification', ({ payload }) => received.push(payload ?? ''));
    await listener.query(`LISTEN ${DEVICE_KEY_CHANGED}`);
  });
  afterAll(async () => {
    await listener.end();
    await db.close();
  });

  const notified = async (change: () => Promise<unknown>) => {
    received.length = 0;
    await change();
    await sleep(150);
    return [...received];
  };
  const insert = (id: string) =>
    db.prisma.clientEncryptionKey.create({
      data: { id, deviceId: 'device', publicKey: 'pem', privateKey: `kms1.a.${id}`, expiresAt: new Date(NOW.getTime() + 3_600_000), createdAt: NOW, updatedAt: NOW },
    });

  it('names the key on revocation, deprecation, re-wrap and deletion, once per change', async () => {
    expect(await notified(() => insert('n1'))).toEqual([]);
    expect(await notified(() => keys.revoke('n1', NOW, 'test'))).toEqual(['n1']);
    expect(await notified(() => keys.revoke('n1', NOW, 'again'))).toEqual([]); // already revoked: nothing changed
    await insert('n2');
    expect(await notified(() => keys.deprecate(['n2'], NOW))).toEqual(['n2']);
    expect(await notified(() => keys.replaceWrapped('ClientEncryptionKey', 'n2', 'kms1.a.n2', 'kms1.b.n2'))).toEqual(['n2']);
    expect(await notified(() => db.prisma.clientEncryptionKey.deleteMany({ where: { id: { in: ['n1', 'n2'] } } }))).toEqual(
      expect.arrayContaining(['n1', 'n2']),
    );
  });

  it('stays silent for the usage counters written every second', async () => {
    await insert('n3');
    expect(await notified(() => keys.addUses([{ id: 'n3', count: 5, lastUsed: NOW }]))).toEqual([]);
    expect(await db.prisma.clientEncryptionKey.findUniqueOrThrow({ where: { id: 'n3' }, select: { usageCount: true } })).toEqual({ usageCount: 5 });
  });
});

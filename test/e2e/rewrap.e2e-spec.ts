import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { MasterKeyRing } from '../../src/keys';
import { rewrapPrivateKeys } from '../../src/keys';
import { encryptWithWebCrypto } from '../support/clients';
import { decrypt, generateKey, newDeviceId } from '../support/operations';
import { startTestApp, TestApp } from '../support/test-app';
import { createTestDatabase, TestDatabase } from '../support/test-database';

const ringText = (...entries: [string, Buffer][]) => entries.map(([id, key]) => `${id}:${key.toString('base64')}`).join(',');

describe('re-wrapping private keys under a new master key', () => {
  const oldKey = randomBytes(32);
  const newKey = randomBytes(32);
  let database: TestDatabase;
  let before: TestApp;
  const ciphertexts: { keyId: string; encryptedData: string; plaintext: string }[] = [];

  beforeAll(async () => {
    database = await createTestDatabase();
    before = await startTestApp({ database, env: { KMS_MASTER_KEYS: ringText(['old', oldKey]) } });
    for (let i = 0; i < 5; i += 1) {
      const key = await generateKey(before, newDeviceId('rewrap'));
      const plaintext = `secret ${i}`;
      ciphertexts.push({ keyId: key.keyId, plaintext, encryptedData: await encryptWithWebCrypto(key.publicKey, plaintext) });
    }
  });
  afterAll(async () => {
    await before.close();
    await database.drop();
  });

  const prefixes = async () =>
    (await before.prisma.clientEncryptionKey.findMany({ select: { privateKey: true } })).map(
      (row) => MasterKeyRing.masterKeyIdOf(row.privateKey),
    );

  it('resumes after an interruption, finishes, and does nothing the second time', async () => {
    const ring = new MasterKeyRing([{ id: 'new', key: newKey }, { id: 'old', key: oldKey }]);
    const crash = new Error('killed between batches');
    await expect(
      rewrapPrivateKeys(before.prisma, ring, { batchSize: 2, afterBatch: () => Promise.reject(crash) }),
    ).rejects.toBe(crash);
    expect((await prefixes()).sort()).toEqual(['new', 'new', 'old', 'old', 'old']);

    expect(await rewrapPrivateKeys(before.prisma, ring, { batchSize: 2 })).toEqual({ rewrapped: 3, changedMeanwhile: 0, failedIds: [] });
    expect(await prefixes()).toEqual(['new', 'new', 'new', 'new', 'new']);
    expect(await rewrapPrivateKeys(before.prisma, ring, { batchSize: 2 })).toEqual({ rewrapped: 0, changedMeanwhile: 0, failedIds: [] });
  });

  it('leaves every key usable with only the new master key in the ring', async () => {
    const after = await startTestApp({ database, env: { KMS_MASTER_KEYS: ringText(['new', newKey]) } });
    try {
      for (const { keyId, encryptedData, plaintext } of ciphertexts) {
        expect((await decrypt(after, { keyId, encryptedData }, after.as('service'))).data?.decryptData.data).toBe(plaintext);
      }
    } finally {
      await after.close();
    }
  });

  it('runs as `npm run keys:rewrap`, and exits 1 naming rows under a key the ring lacks', async () => {
    const stranger = new MasterKeyRing([{ id: 'lost', key: randomBytes(32) }]);
    await before.prisma.clientEncryptionKey.create({
      data: {
        id: 'orphan-key', deviceId: 'd', publicKey: 'p', updatedAt: new Date(),
        privateKey: stranger.wrap('orphan-key', Buffer.from('x')),
      },
    });
    const newest = randomBytes(32);
    const run = promisify(execFile)(process.execPath, ['-r', '@swc-node/register', 'src/cli/rewrap-keys.ts'], {
      cwd: join(__dirname, '../..'),
      env: {
        PATH: process.env.PATH,
        DATABASE_URL: database.url,
        KMS_MASTER_KEYS: ringText(['newest', newest], ['new', newKey]),
      },
    });
    await expect(run).rejects.toMatchObject({
      code: 1,
      stdout: 're-wrapped 5 private key(s) under master key "newest"; 0 changed meanwhile; 1 failed\n',
      stderr: expect.stringContaining('orphan-key'),
    });
    expect((await prefixes()).filter((id) => id === 'newest')).toHaveLength(5);
  });
});

describe('re-wrapping the key pool', () => {
  it('re-wraps the pairs waiting in the pool: one claimed after the old master key left the ring still decrypts', async () => {
    const oldKey = randomBytes(32);
    const newKey = randomBytes(32);
    const database = await createTestDatabase();
    try {
      const POOL = { KEY_POOL_SIZE: '2', KEY_POOL_REFILL_BELOW: '2', KEY_POOL_REFILL_NICE: '0' };
      const before = await startTestApp({ database, env: { ...POOL, KMS_MASTER_KEYS: ringText(['old', oldKey]) } });
      let pairs: { id: string; privateKey: string }[];
      try {
        const deadline = Date.now() + 60_000;
        while ((await before.prisma.keyPoolPair.count()) < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
        pairs = await before.prisma.keyPoolPair.findMany({ select: { id: true, privateKey: true } });
      } finally {
        await before.close();
      }
      expect(pairs.map((pair) => MasterKeyRing.masterKeyIdOf(pair.privateKey))).toEqual(['old', 'old']);

      const ring = new MasterKeyRing([{ id: 'new', key: newKey }, { id: 'old', key: oldKey }]);
      const onlyPairs = await startTestApp({ database, env: { KMS_MASTER_KEYS: ringText(['new', newKey]) } });
      try {
        expect(await rewrapPrivateKeys(onlyPairs.prisma, ring, { batchSize: 1 })).toEqual({ rewrapped: 2, changedMeanwhile: 0, failedIds: [] });
        pairs = await onlyPairs.prisma.keyPoolPair.findMany({ select: { id: true, privateKey: true } });
        expect(pairs.map((pair) => MasterKeyRing.masterKeyIdOf(pair.privateKey))).toEqual(['new', 'new']);
      } finally {
        await onlyPairs.close();
      }

      const after = await startTestApp({ database, env: { ...POOL, KMS_MASTER_KEYS: ringText(['new', newKey]) } });
      try {
        const key = await generateKey(after, newDeviceId('rewrapped-pair'));
        expect(pairs.map((pair) => pair.id)).toContain(key.keyId);
        const encryptedData = await encryptWithWebCrypto(key.publicKey, 'claimed after re-wrap');
        expect((await decrypt(after, { keyId: key.keyId, encryptedData })).data?.decryptData.data).toBe('claimed after re-wrap');
      } finally {
        await after.close();
      }
    } finally {
      await database.drop();
    }
  });
});

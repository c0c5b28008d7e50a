import { setTimeout as sleep } from 'node:timers/promises';
import { KeyPool } from '../../src/keys';
import { encryptWithWebCrypto } from '../support/clients';
import { decrypt, errorCode, GENERATE_KEY, generateKey, newDeviceId } from '../support/operations';
import { startTestApp, TestApp } from '../support/test-app';
import { TestClock } from '../support/test-clock';
import { createTestDatabase, TestDatabase } from '../support/test-database';

const HOUR_MS = 60 * 60 * 1000;
/** Normal priority: at nice 19 the pool would wait for whatever else the machine runs (other test files). */
const FILL = { KEY_POOL_REFILL_NICE: '0' };

async function until<T>(what: string, read: () => Promise<T>, done: (value: T) => boolean, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what} (last: ${JSON.stringify(value)})`);
    await sleep(50);
  }
}

const poolIds = async (t: TestApp) =>
  (await t.prisma.keyPoolPair.findMany({ select: { id: true }, orderBy: { createdAt: 'asc' } })).map((row) => row.id);

async function scrape(t: TestApp): Promise<string> {
  const response = await fetch(`${t.baseUrl}/metrics`, { headers: t.as('ops') });
  expect(response.status).toBe(200);
  return response.text();
}

/** A sample's value in the exposition text (0 when absent). */
const sample = (text: string, name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? 0);

describe('the key pool', () => {
  describe('two instances on one database', () => {
    let database: TestDatabase;
    let apps: TestApp[];
    const POOL = { ...FILL, KEY_POOL_SIZE: '6', KEY_POOL_REFILL_BELOW: '6' };

    beforeAll(async () => {
      database = await createTestDatabase();
      apps = [await startTestApp({ database, env: POOL }), await startTestApp({ database, env: POOL })];
    });
    afterAll(async () => {
      for (const t of apps) await t.close();
      await database.drop();
    });

    it('fill the pool together up to KEY_POOL_SIZE, and never past it', async () => {
      await until('a full pool', () => poolIds(apps[0]), (ids) => ids.length >= 6);
      await sleep(500);
      expect(await poolIds(apps[0])).toHaveLength(6);
    });

    it('hand every pair out once to racing requests, and make the rest on request (a miss is no error)', async () => {
      const before = await poolIds(apps[0]);
      expect(before).toHaveLength(6);
      const devices = Array.from({ length: 12 }, (_, i) => newDeviceId(`race-${i}`));
      const keys = await Promise.all(devices.map((deviceId, i) => generateKey(apps[i % 2], deviceId)));

      const ids = keys.map((key) => key.keyId);
      expect(new Set(ids).size).toBe(12);
      expect(new Set(keys.map((key) => key.publicKey)).size).toBe(12);
      // The oldest pairs go first: all six that were ready are among the keys, each once.
      for (const id of before) expect(ids.filter((keyId) => keyId === id)).toHaveLength(1);
      for (const id of before) expect(await apps[0].prisma.keyPoolPair.findUnique({ where: { id } })).toBeNull();

      const pools = apps.map((t) => t.app.get(KeyPool));
      const claims = pools[0].claims + pools[1].claims;
      expect(claims).toBeGreaterThanOrEqual(6);
      expect(claims + pools[0].misses + pools[1].misses).toBe(12);

      // A claimed key is a device key like any other: its wrapped private key opens under its id.
      for (const key of keys.filter((k) => before.includes(k.keyId)).slice(0, 2)) {
        const encryptedData = await encryptWithWebCrypto(key.publicKey, `for ${key.deviceId}`);
        const answer = await decrypt(apps[1], { keyId: key.keyId, encryptedData });
        expect(answer.data?.decryptData.data).toBe(`for ${key.deviceId}`);
      }
      await until('a refilled pool', () => poolIds(apps[0]), (ids) => ids.length >= 6);
    });

    it('show the pool on /metrics: pairs, claims, misses and refill time', async () => {
      const text = await scrape(apps[0]);
      expect(sample(text, 'kms_key_pool_pairs')).toBe(6);
      expect(sample(text, 'kms_key_pool_claims_total')).toBe(apps[0].app.get(KeyPool).claims);
      expect(sample(text, 'kms_key_pool_misses_total')).toBe(apps[0].app.get(KeyPool).misses);
      expect(text).toMatch(/^# TYPE kms_key_pool_refill_seconds histogram$/m);
      const refills = sample(text, 'kms_key_pool_refill_seconds_count') + sample(await scrape(apps[1]), 'kms_key_pool_refill_seconds_count');
      // 6 at first, at least 6 more after the race; each pair was added by one of the two.
      expect(refills).toBeGreaterThanOrEqual(12);
    });
  });

  it('never hands out a pair older than KEY_POOL_MAX_AGE_HOURS, and replaces it', async () => {
    const clock = new TestClock();
    const t = await startTestApp({ clock, env: { ...FILL, KEY_POOL_SIZE: '3', KEY_POOL_REFILL_BELOW: '3', KEY_POOL_MAX_AGE_HOURS: '1' } });
    try {
      const old = await until('a full pool', () => poolIds(t), (ids) => ids.length >= 3);
      clock.advanceMs(HOUR_MS); // the pairs are now exactly KEY_POOL_MAX_AGE_HOURS old
      const key = await generateKey(t, newDeviceId('stale'));
      expect(old).not.toContain(key.keyId);
      expect(t.app.get(KeyPool).misses).toBe(1);
      const fresh = await until('the stale pairs replaced', () => poolIds(t), (ids) => ids.length === 3 && !ids.some((id) => old.includes(id)));
      expect(fresh).toHaveLength(3);
    } finally {
      await t.close();
    }
  });

  it('gives a device at its limit no pair, and counts its generations exactly when they come at once', async () => {
    const t = await startTestApp({ env: { ...FILL, KEY_POOL_SIZE: '4', KEY_POOL_REFILL_BELOW: '4', MAX_KEY_GEN_PER_DEVICE: '3' } });
    try {
      await until('a full pool', () => poolIds(t), (ids) => ids.length >= 4);
      const deviceId = newDeviceId('limit');
      const answers = await Promise.all(
        Array.from({ length: 6 }, () => t.gql('mutation($input: GenerateEncryptionKeyInput!) { generateEncryptionKey(input: $input) { keyId } }', { input: { deviceId } })),
      );
      expect(answers.filter((answer) => answer.data?.generateEncryptionKey)).toHaveLength(3);
      expect(answers.filter((answer) => answer.errors?.[0]?.extensions.code === 'RATE_LIMITED')).toHaveLength(3);
      expect(await t.prisma.keyGeneration.count({ where: { deviceId } })).toBe(3);
      expect(await t.prisma.clientEncryptionKey.count({ where: { deviceId } })).toBe(3);
    } finally {
      await t.close();
    }
  });

  it('puts a pair made on request into the pool when the device ran out of generations meanwhile', async () => {
    const t = await startTestApp({ env: { ...FILL, KEY_POOL_SIZE: '4', KEY_POOL_REFILL_BELOW: '4', MAX_KEY_GEN_PER_DEVICE: '1' } });
    try {
      const pool = t.app.get(KeyPool);
      await pool.onModuleDestroy(); // no refill: the pool stays empty
      await t.prisma.keyPoolPair.deleteMany();
      const deviceId = newDeviceId('one-left');
      // All four find the device within its limit and the pool empty, and make a key; one may store it.
      const answers = await Promise.all(Array.from({ length: 4 }, () => t.gql(GENERATE_KEY, { input: { deviceId } })));
      expect(answers.filter((answer) => answer.data?.generateEncryptionKey)).toHaveLength(1);
      expect(answers.filter((answer) => errorCode(answer) === 'RATE_LIMITED')).toHaveLength(3);
      expect(pool.misses).toBeGreaterThan(1);
      const kept = await poolIds(t);
      expect(kept).toHaveLength(pool.misses - 1);

      const other = await generateKey(t, newDeviceId('gets-kept-pair'));
      expect(kept).toContain(other.keyId);
      const encryptedData = await encryptWithWebCrypto(other.publicKey, 'kept pair');
      expect((await decrypt(t, { keyId: other.keyId, encryptedData })).data?.decryptData.data).toBe('kept pair');
    } finally {
      await t.close();
    }
  });

  it('makes nothing in the background with KEY_POOL_SIZE=0, and still serves keys', async () => {
    const t = await startTestApp({ env: { KEY_POOL_SIZE: '0' } });
    try {
      await generateKey(t, newDeviceId('no-pool'));
      await sleep(300);
      expect(await t.prisma.keyPoolPair.count()).toBe(0);
      expect(t.app.get(KeyPool).misses).toBe(0);
    } finally {
      await t.close();
    }
  });
});

import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { hash } from '@node-rs/argon2';
import { authDevice, newUserId } from '../support/auth-operations';
import { GeneratedKey, generateKey, newDeviceId } from '../support/operations';
import { startTestApp, TestApp } from '../support/test-app';
import { createTestDatabase, TestDatabase } from '../support/test-database';

const CHEAP_ARGON2 = { ARGON2_MEMORY_KIB: '8192', ARGON2_TIME_COST: '1' };
const pepper = () => randomBytes(32).toString('base64');

/**
 * AUTH_PEPPER as a ring (newest first): new hashes under the newest pepper, each
 * checked with the pepper it names and re-made on success; `auth:repepper` moves the
 * hashes of users who never come back, without their secrets; hashes from before
 * rings (the pepper inside argon2) keep working as pepper `0`.
 */
describe('rotating AUTH_PEPPER', () => {
  let database: TestDatabase;
  let key: GeneratedKey;
  const oldPepper = pepper();
  const newPepper = pepper();
  const apps: TestApp[] = [];
  beforeAll(async () => {
    database = await createTestDatabase();
  });
  afterAll(async () => {
    for (const app of apps) await app.close().catch(() => undefined);
    await database.drop();
  });

  const start = async (env: Record<string, string>) => {
    const t = await startTestApp({ database, env: { ...CHEAP_ARGON2, ...env } });
    apps.push(t);
    return t;
  };
  const pinHashOf = async (t: TestApp, userId: string) =>
    (await t.prisma.userCredential.findUniqueOrThrow({ where: { userId } })).pinHash!;
  const verify = async (t: TestApp, userId: string, pin: string) =>
    (await authDevice(t, key, userId).verifyPin(pin)).data!.verifyTransactionPin.valid as boolean;
  /** A PIN hash as the service made them before pepper rings: argon2id with the pepper as its secret input. */
  const hashedBeforeRings = (t: TestApp, pin: string) =>
    hash(pin, { algorithm: 2, memoryCost: 8192, timeCost: 1, parallelism: 1, secret: Buffer.from(oldPepper) });
  const insertPinHash = (t: TestApp, userId: string, pinHash: string) =>
    t.prisma.userCredential.create({ data: { userId, pinHash, createdAt: new Date(), updatedAt: new Date() } });

  const users = { returning: newUserId('returning'), away: newUserId('away'), oldReturning: newUserId('old-returning'), oldAway: newUserId('old-away') };

  it('today: one pepper (id 0); hashes made before rings still verify, and are re-made', async () => {
    const t = await start({ AUTH_PEPPER: oldPepper });
    key = await generateKey(t, newDeviceId('pepper'));
    for (const userId of [users.returning, users.away]) await authDevice(t, key, userId).setPin('2580');
    expect(await pinHashOf(t, users.returning)).toMatch(/^kmsp1\.0\./);
    for (const userId of [users.oldReturning, users.oldAway]) await insertPinHash(t, userId, await hashedBeforeRings(t, '1357'));

    expect(await verify(t, users.oldReturning, '1357')).toBe(true);
    expect(await pinHashOf(t, users.oldReturning)).toMatch(/^kmsp1\.0\./);
    expect(await verify(t, users.oldReturning, '1357')).toBe(true);
    expect(await pinHashOf(t, users.oldAway)).toMatch(/^\$argon2id\$/);
    await t.close();
  });

  it('a new pepper first in the ring: a returning user moves on success; auth:repepper moves the others without them', async () => {
    const ring = `new:${newPepper},0:${oldPepper}`;
    const t = await start({ AUTH_PEPPER: ring });
    expect(await verify(t, users.returning, '2580')).toBe(true);
    expect(await pinHashOf(t, users.returning)).toMatch(/^kmsp1\.new\./);
    expect(await pinHashOf(t, users.away)).toMatch(/^kmsp1\.0\./);
    // A wrong PIN moves nothing.
    expect(await verify(t, users.oldReturning, '9999')).toBe(false);
    expect(await pinHashOf(t, users.oldReturning)).toMatch(/^kmsp1\.0\./);

    const { stdout } = await promisify(execFile)(process.execPath, ['-r', '@swc-node/register', 'src/cli/repepper-credentials.ts'], {
      cwd: join(__dirname, '../..'),
      env: { PATH: process.env.PATH, DATABASE_URL: database.url, AUTH_PEPPER: ring },
    });
    expect(stdout).toBe(
      're-peppered 2 credential hash(es) under pepper "new"; 1 already under it; 0 changed meanwhile;' +
        ' 1 made before pepper ids (need their user, or pepper "0"); 0 unreadable\n',
    );
    expect(await pinHashOf(t, users.away)).toMatch(/^kmsp1\.new\./);
    expect(await pinHashOf(t, users.oldReturning)).toMatch(/^kmsp1\.new\./);
    expect(await pinHashOf(t, users.oldAway)).toMatch(/^\$argon2id\$/);
    await t.close();
  });

  it('the old pepper gone: everyone moved still verifies; a hash from before rings now needs its pepper', async () => {
    const t = await start({ AUTH_PEPPER: `new:${newPepper}` });
    expect(await verify(t, users.returning, '2580')).toBe(true);
    expect(await verify(t, users.away, '2580')).toBe(true);
    expect(await verify(t, users.oldReturning, '1357')).toBe(true);
    expect(await verify(t, users.oldAway, '1357')).toBe(false);
    await t.close();
  });

  it('binds a hash to its row: copied to another user, it does not verify', async () => {
    const t = await start({ AUTH_PEPPER: `new:${newPepper}` });
    const thief = newUserId('thief');
    await insertPinHash(t, thief, await pinHashOf(t, users.returning));
    expect(await verify(t, thief, '2580')).toBe(false);
    await t.close();
  });

  it('reads the development pepper file the same way: its single value is pepper 0, a ring in it rotates', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'kms-dev-pepper-'));
    try {
      await writeFile(join(dataDir, 'auth-pepper.dev'), `${oldPepper}\n`);
      const first = await start({ AUTH_PEPPER: '', DATA_DIR: dataDir });
      const devUser = newUserId('dev');
      await authDevice(first, key, devUser).setPin('8642');
      expect(await pinHashOf(first, devUser)).toMatch(/^kmsp1\.0\./);
      const legacy = newUserId('dev-legacy');
      await insertPinHash(first, legacy, await hashedBeforeRings(first, '7531'));
      expect(await verify(first, legacy, '7531')).toBe(true);
      await first.close();

      await writeFile(join(dataDir, 'auth-pepper.dev'), `dev2:${newPepper},0:${oldPepper}\n`);
      const second = await start({ AUTH_PEPPER: '', DATA_DIR: dataDir });
      expect(await verify(second, devUser, '8642')).toBe(true);
      expect(await pinHashOf(second, devUser)).toMatch(/^kmsp1\.dev2\./);
      await second.close();
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});

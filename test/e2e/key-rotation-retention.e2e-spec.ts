import { isPastRetention } from '../../src/encryption/key-lifecycle';
import { KeyRotationRepository } from '../../src/key-rotation/key-rotation.repository';
import { runJob } from '../support/key-rotation';
import { startTestApp, TestApp } from '../support/test-app';

const DAY_MS = 24 * 60 * 60 * 1000;

interface Case {
  revokedAt?: number;
  deprecatedAt?: number;
  expiresAt?: number;
  deprecated?: boolean;
}

/** Edge cases of "earliest of revokedAt, deprecatedAt, expiresAt-if-past", in ms around `now` and `cutoff`. */
const cases = (now: number, cutoff: number): Record<string, Case> => ({
  'nothing set': {},
  'deprecated flag without a time': { deprecated: true },
  'expired exactly at the cutoff': { expiresAt: cutoff },
  'expired 1 ms before the cutoff': { expiresAt: cutoff - 1 },
  'expired 1 ms after the cutoff': { expiresAt: cutoff + 1 },
  'expiring exactly now': { expiresAt: now },
  'expiring in the future': { expiresAt: now + DAY_MS },
  'expired long ago, never marked': { expiresAt: now - 1000 * DAY_MS },
  'rotated out at the cutoff, expiry ahead': { deprecatedAt: cutoff, deprecated: true, expiresAt: now + DAY_MS },
  'rotated out 1 ms after the cutoff': { deprecatedAt: cutoff + 1, deprecated: true, expiresAt: now + DAY_MS },
  'revoked at the cutoff, expiry ahead': { revokedAt: cutoff, expiresAt: now + DAY_MS },
  'revoked 1 ms after the cutoff': { revokedAt: cutoff + 1, expiresAt: now + DAY_MS },
  'revoked recently, expired before the cutoff': { revokedAt: now - DAY_MS, expiresAt: cutoff - 1 },
  'marked late, expired before the cutoff': { deprecated: true, deprecatedAt: now - DAY_MS, expiresAt: cutoff - 1 },
  'revoked recently, rotated out before the cutoff': { revokedAt: now - DAY_MS, deprecated: true, deprecatedAt: cutoff - 1 },
  'everything 1 ms after the cutoff': { revokedAt: cutoff + 1, deprecated: true, deprecatedAt: cutoff + 1, expiresAt: cutoff + 1 },
  'revoked in the future (clock skew)': { revokedAt: now + DAY_MS },
  'deprecation in the future, expired before the cutoff': { deprecated: true, deprecatedAt: now + DAY_MS, expiresAt: cutoff },
});

describe('retention: the delete statement and endOfActiveLife() agree', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(() => t.close());
  afterEach(() => t.prisma.clientEncryptionKey.deleteMany());

  async function insert(now: number, retentionDays: number) {
    const at = (ms?: number) => (ms === undefined ? null : new Date(ms));
    const rows = Object.entries(cases(now, now - retentionDays * DAY_MS)).map(([id, c]) => ({
      id,
      deviceId: 'retention',
      publicKey: 'x',
      privateKey: 'x',
      deprecated: c.deprecated ?? false,
      revokedAt: at(c.revokedAt),
      deprecatedAt: at(c.deprecatedAt),
      expiresAt: at(c.expiresAt),
      createdAt: new Date(now - 2000 * DAY_MS),
      updatedAt: new Date(now - 2000 * DAY_MS),
    }));
    await t.prisma.clientEncryptionKey.createMany({ data: rows });
    const gone = rows.filter((row) => isPastRetention(row, new Date(now), retentionDays)).map((row) => row.id);
    return { all: rows.map((row) => row.id), gone };
  }

  const remaining = async () => (await t.prisma.clientEncryptionKey.findMany({ select: { id: true } })).map(({ id }) => id);
  const without = (all: string[], gone: string[]) => all.filter((id) => !gone.includes(id)).sort();

  it.each([1, 90, 3650])('the SQL deletes exactly what TypeScript calls past %i days of retention', async (retentionDays) => {
    const now = t.clock.now().getTime();
    const { all, gone } = await insert(now, retentionDays);
    expect(gone.length).toBeGreaterThanOrEqual(8);
    expect(all.length - gone.length).toBeGreaterThanOrEqual(8);

    const cutoff = new Date(now - retentionDays * DAY_MS);
    const batch = await t.app.get(KeyRotationRepository).deleteKeysEndedBy(new Date(now), cutoff, null, 1000);
    expect(batch.changed).toBe(gone.length);
    expect((await remaining()).sort()).toEqual(without(all, gone));
  });

  it('the whole job (which marks expired keys first) deletes the same keys', async () => {
    const now = t.clock.now().getTime();
    const { all, gone } = await insert(now, 90);
    expect(await runJob(t)).toMatchObject({ deletedKeys: gone.length });
    expect((await remaining()).sort()).toEqual(without(all, gone));
  });
});

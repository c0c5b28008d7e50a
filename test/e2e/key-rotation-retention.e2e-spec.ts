import { isPastRetention } from '../../src/keys/key-lifecycle';
import { LifecycleCase, lifecycleRows } from '../support/lifecycle-cases';
import { runJob } from '../support/key-rotation';
import { startTestApp, TestApp } from '../support/test-app';

const DAY_MS = 24 * 60 * 60 * 1000;


/** Edge cases of "earliest of revokedAt, deprecatedAt, expiresAt-if-past", in ms around `now` and `cutoff`. */
const cases = (now: number, cutoff: number): Record<string, LifecycleCase> => ({
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

/**
 * The daily job as a whole against TypeScript's isPastRetention() on named edge
 * cases (src/keys/key-lifecycle.repo-spec.ts checks each SQL form on a full grid).
 */
describe('retention: the daily job deletes what isPastRetention() calls gone', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(() => t.close());
  afterEach(() => t.prisma.clientEncryptionKey.deleteMany());

  async function insert(now: number, retentionDays: number) {
    const rows = lifecycleRows(cases(now, now - retentionDays * DAY_MS), 'retention', new Date(now - 2000 * DAY_MS));
    await t.prisma.clientEncryptionKey.createMany({ data: rows });
    const gone = rows.filter((row) => isPastRetention(row, new Date(now), retentionDays)).map((row) => row.id);
    return { all: rows.map((row) => row.id), gone };
  }

  const remaining = async () => (await t.prisma.clientEncryptionKey.findMany({ select: { id: true } })).map(({ id }) => id);
  const without = (all: string[], gone: string[]) => all.filter((id) => !gone.includes(id)).sort();

  it('the whole job (which marks expired keys first) deletes the same keys', async () => {
    const now = t.clock.now().getTime();
    const { all, gone } = await insert(now, 90);
    expect(await runJob(t)).toMatchObject({ deletedKeys: gone.length });
    expect((await remaining()).sort()).toEqual(without(all, gone));
  });
});

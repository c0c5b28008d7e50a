import { lifecycleGrid, lifecycleRows } from '../../test/support/lifecycle-cases';
import { repositoryDatabase, RepositoryDatabase } from '../../test/support/repository-database';
import { endOfActiveLife, isExpired, isPastRetention, KeyStatus, keyStatus } from './key-lifecycle';
import { lifecycleSql } from './key-lifecycle.sql';
import { KeysRepository } from './keys.repository';

const NOW = new Date('2026-06-01T12:00:00.000Z');
const DEVICE = 'lifecycle-grid';

interface Evaluated {
  id: string;
  expired: boolean;
  status: KeyStatus;
  active: boolean;
  revoked: boolean;
  deprecated: boolean;
  endOfActiveLife: Date | null;
  gone: boolean;
}

/**
 * The lifecycle rules exist twice: in TypeScript (requests) and in SQL (queries
 * and the daily job). Here both judge the same 640 keys, every fact exactly at,
 * just before and just after each boundary, and must agree row for row; then the
 * repository's own statements built on the SQL forms must pick the same keys.
 */
describe.each([1, 90, 3650])('key lifecycle rules, TypeScript and SQL, with %i days of retention', (retentionDays) => {
  let db: RepositoryDatabase;
  let keys: KeysRepository;
  let rows: ReturnType<typeof lifecycleRows>;

  beforeAll(async () => {
    db = await repositoryDatabase();
    keys = new KeysRepository(db.prisma);
    rows = lifecycleRows(lifecycleGrid(NOW.getTime(), retentionDays), DEVICE, new Date(NOW.getTime() - 4000 * 86_400_000));
    await db.prisma.clientEncryptionKey.createMany({ data: rows });
  });
  afterAll(() => db.close());

  const byTypeScript = (): Evaluated[] =>
    rows.map((row) => ({
      id: row.id,
      expired: isExpired(row, NOW),
      status: keyStatus(row, NOW),
      active: keyStatus(row, NOW) === KeyStatus.ACTIVE,
      revoked: keyStatus(row, NOW) === KeyStatus.REVOKED,
      deprecated: keyStatus(row, NOW) === KeyStatus.DEPRECATED,
      endOfActiveLife: endOfActiveLife(row, NOW),
      gone: isPastRetention(row, NOW, retentionDays),
    }));

  const bySql = () =>
    db.prisma.$queryRaw<Evaluated[]>`
      SELECT "id",
             coalesce(${lifecycleSql.isExpired(NOW)}, false) AS expired,
             ${lifecycleSql.keyStatus(NOW)} AS status,
             ${lifecycleSql.isActive(NOW)} AS active,
             ${lifecycleSql.isRevoked()} AS revoked,
             ${lifecycleSql.isDeprecated(NOW)} AS deprecated,
             ${lifecycleSql.endOfActiveLife(NOW)} AS "endOfActiveLife",
             ${lifecycleSql.isPastRetention(NOW, retentionDays)} AS gone
        FROM "ClientEncryptionKey"`;

  it('agree on expiry, status, end of active life and retention for every key', async () => {
    const sql = new Map((await bySql()).map((row) => [row.id, row]));
    const disagreements = byTypeScript().filter((ts) => JSON.stringify(ts) !== JSON.stringify(sql.get(ts.id)));
    expect(disagreements.map((ts) => ({ ts, sql: sql.get(ts.id) }))).toEqual([]);
    // The grid reaches every outcome, so agreement is not agreement on one answer.
    const outcomes = byTypeScript();
    for (const status of Object.values(KeyStatus)) expect(outcomes.some((row) => row.status === status)).toBe(true);
    expect(outcomes.filter((row) => row.gone).length).toBeGreaterThan(50);
    expect(outcomes.filter((row) => !row.gone && row.endOfActiveLife).length).toBeGreaterThan(50);
  });

  it('counts keys by state as TypeScript classifies them', async () => {
    const ts = byTypeScript();
    const live = ts.filter((row) => !row.gone);
    expect(await keys.countByState(NOW, retentionDays)).toEqual({
      active: live.filter((row) => row.status === KeyStatus.ACTIVE).length,
      deprecated: live.filter((row) => row.status === KeyStatus.DEPRECATED).length,
      revoked: live.filter((row) => row.status === KeyStatus.REVOKED).length,
      awaitingDeletion: ts.length - live.length,
    });
  });

  it('counts in one backend: the key table is never scanned by parallel workers', async () => {
    // Parallel plans made free: a table without the setting (the control) gets one.
    const plans = await db.prisma.$transaction(async (tx) => {
      await tx.$executeRawUnsafe('SET LOCAL parallel_setup_cost = 0');
      await tx.$executeRawUnsafe('SET LOCAL parallel_tuple_cost = 0');
      await tx.$executeRawUnsafe('SET LOCAL min_parallel_table_scan_size = 0');
      await tx.$executeRawUnsafe('SET LOCAL min_parallel_index_scan_size = 0');
      // A plain table (temporary ones are never scanned in parallel), dropped with the transaction's end.
      await tx.$executeRawUnsafe('CREATE TABLE parallel_control AS SELECT * FROM "ClientEncryptionKey"');
      await tx.$executeRawUnsafe('ANALYZE parallel_control');
      const plan = async (table: string) =>
        (await tx.$queryRawUnsafe<{ 'QUERY PLAN': string }[]>(`EXPLAIN SELECT count(*) FROM ${table}`)).map((line) => line['QUERY PLAN']).join('\n');
      const found = { keys: await plan('"ClientEncryptionKey"'), control: await plan('parallel_control') };
      await tx.$executeRawUnsafe('DROP TABLE parallel_control');
      return found;
    });
    expect(plans.control).toContain('Gather');
    expect(plans.keys).not.toContain('Gather');
  });

  it("serves the device's newest ACTIVE key", async () => {
    const newest = rows.filter((row) => keyStatus(row, NOW) === KeyStatus.ACTIVE).at(-1)!;
    expect((await keys.findNewestActive(DEVICE, NOW))?.id).toBe(newest.id);
  });

  it('lets the daily job deprecate exactly the expired unmarked keys and delete exactly those past retention', async () => {
    const expiredUnmarked = rows.filter((row) => !row.deprecated && isExpired(row, NOW)).map((row) => row.id);
    const pastRetention = rows.filter((row) => isPastRetention(row, NOW, retentionDays)).map((row) => row.id);
    await db.prisma.$transaction(async (tx) => {
      const inTransaction = new KeysRepository(tx as never);
      expect((await inTransaction.deprecateExpired(NOW, null, 10_000)).changed).toBe(expiredUnmarked.length);
      const stillThere = async () => (await tx.clientEncryptionKey.findMany({ select: { id: true } })).map(({ id }) => id);
      const deleted = await inTransaction.deletePastRetention(NOW, retentionDays, null, 10_000);
      // Marking expired keys first moves no key's end of active life.
      expect(deleted.changed).toBe(pastRetention.length);
      expect((await stillThere()).sort()).toEqual(rows.map((row) => row.id).filter((id) => !pastRetention.includes(id)).sort());
      throw new RollBack();
    }).catch((error: unknown) => {
      if (!(error instanceof RollBack)) throw error;
    });
  });
});

/** Undoes a transaction whose checks passed, so that the next test sees the grid again. */
class RollBack extends Error {}

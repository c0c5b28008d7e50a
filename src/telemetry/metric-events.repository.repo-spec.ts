import { repositoryDatabase, RepositoryDatabase } from '../../test/support/repository-database';
import { toNumber } from '../database';
import { MetricEventsRepository } from './metric-events.repository';

const NOW = new Date('2026-06-01T12:00:00.000Z');
const HOUR_MS = 60 * 60 * 1000;
const WINDOW = { from: new Date(NOW.getTime() - HOUR_MS), to: NOW };

describe('MetricEventsRepository', () => {
  let db: RepositoryDatabase;
  let events: MetricEventsRepository;
  beforeAll(async () => {
    db = await repositoryDatabase();
    events = new MetricEventsRepository(db.prisma);
  });
  afterAll(() => db.close());
  afterEach(() => db.prisma.encryptionMetric.deleteMany());

  it("computes per operation exactly PostgreSQL's count, avg and percentile_cont, from one hashed pass", async () => {
    let seed = 7;
    const random = () => (seed = (seed * 16807) % 2147483647) / 2147483647;
    const sizes: [string, number][] = [['one', 1], ['two', 2], ['many', 997], ['tail', 250], ['flat', 40]];
    await db.prisma.encryptionMetric.createMany({
      data: sizes.flatMap(([name, count]) =>
        Array.from({ length: count }, () => ({
          operation: `random-${name}`,
          status: random() < 0.9 ? 'success' : 'failure',
          duration: name === 'flat' ? 12 : Math.floor(random() ** 3 * 5000),
          timestamp: new Date(NOW.getTime() - Math.floor(random() * HOUR_MS)),
        })),
      ),
    });
    const direct = await db.prisma.$queryRaw<{ operation: string; total: bigint; successes: bigint; avg: number; max: number; percentiles: number[] }[]>`
      SELECT "operation", count(*) AS total, count(*) FILTER (WHERE "status" = 'success') AS successes,
             avg("duration")::float8 AS avg, max("duration") AS max,
             percentile_cont(ARRAY[0.5, 0.95, 0.99]::float8[]) WITHIN GROUP (ORDER BY "duration") AS percentiles
        FROM "EncryptionMetric" GROUP BY "operation" ORDER BY "operation" COLLATE "C"`;
    const computed = await events.inSnapshot((reads) => reads.operations(WINDOW));
    const comparable = (row: { operation: string; total: unknown; successes: unknown; avg: unknown; max: unknown; percentiles: number[] }) => ({
      operation: row.operation,
      total: toNumber(row.total as bigint),
      successes: toNumber(row.successes as bigint),
      avg: Math.round(toNumber(row.avg as number) * 1e9) / 1e9,
      max: toNumber(row.max as number),
      percentiles: row.percentiles.map((value) => Math.round(value * 1e9) / 1e9),
    });
    expect(computed.map(comparable)).toEqual(direct.map(comparable));
    expect(computed).toHaveLength(sizes.length);
  });

  it('reads the window with both ends included', async () => {
    const row = (timestamp: Date) => ({ operation: 'decrypt', status: 'failure', errorReason: 'KEY_REVOKED', duration: 1, timestamp });
    await db.prisma.encryptionMetric.createMany({
      data: [row(WINDOW.from), row(WINDOW.to), row(new Date(WINDOW.from.getTime() - 1)), row(new Date(WINDOW.to.getTime() + 1))],
    });
    const [failures] = await events.inSnapshot((reads) => reads.failures(WINDOW));
    expect({ ...failures, count: toNumber(failures.count) }).toEqual({ operation: 'decrypt', reason: 'KEY_REVOKED', count: 2 });
  });

  it('deletes, by batch, the rows strictly older than the retention cutoff', async () => {
    const row = (timestamp: Date) => ({ operation: 'encrypt', status: 'success', duration: 1, timestamp });
    await db.prisma.encryptionMetric.createMany({
      data: [row(new Date(NOW.getTime() - 2)), row(new Date(NOW.getTime() - 1)), row(NOW)],
    });
    expect(await events.deleteBefore(NOW, null, 1)).toEqual({ changed: 1, cursor: new Date(NOW.getTime() - 2) });
    expect(await events.deleteBefore(NOW, new Date(NOW.getTime() - 2), 1)).toMatchObject({ changed: 1 });
    expect(await events.deleteBefore(NOW, new Date(NOW.getTime() - 1), 1)).toMatchObject({ changed: 0 });
    expect((await db.prisma.encryptionMetric.findMany()).map((metric) => metric.timestamp)).toEqual([NOW]);
  });
});

import { repositoryDatabase, RepositoryDatabase } from '../../test/support/repository-database';
import { toNumber } from '../database';
import { addBins, binMicros, percentilesMicros, PERCENTILE_RELATIVE_ERROR } from './duration-histogram';
import { MetricEventsRepository, MetricsReads } from './metric-events.repository';
import { compareC, problemKeyTest } from './window-merge';

const NOW = new Date('2026-06-01T12:00:00.000Z');
const HOUR_MS = 60 * 60 * 1000;
const WINDOW = { from: new Date(NOW.getTime() - HOUR_MS), to: NOW };

describe('MetricEventsRepository', () => {
  let db: RepositoryDatabase;
  let events: MetricEventsRepository;
  beforeAll(async () => {
    db = await repositoryDatabase();
    events = new MetricEventsRepository(db.prisma, db.config);
  });
  afterAll(() => db.close());
  afterEach(() => db.prisma.encryptionMetric.deleteMany());

  it("reads percentiles from the histogram within its stated bound of PostgreSQL's percentile_cont", async () => {
    let seed = 7;
    const random = () => (seed = (seed * 16807) % 2147483647) / 2147483647;
    const sizes: [string, number][] = [['one', 1], ['two', 2], ['many', 997], ['tail', 250], ['flat', 40], ['fast', 300]];
    await events.insertMany(
      sizes.flatMap(([name, count]) =>
        Array.from({ length: count }, () => {
          const micros = name === 'flat' ? 12_000 : name === 'fast' ? 100 + Math.floor(random() * 900) : Math.floor(random() ** 3 * 5_000_000);
          return {
            operation: `random-${name}` as never,
            status: random() < 0.9 ? ('success' as const) : ('failure' as const),
            duration: Math.round(micros / 1000),
            durationMicros: micros,
            timestamp: new Date(NOW.getTime() - Math.floor(random() * HOUR_MS)),
          };
        }),
      ),
    );
    const direct = await db.prisma.$queryRaw<{ operation: string; total: bigint; percentiles: number[] }[]>`
      SELECT "operation", count(*) AS total,
             percentile_cont(ARRAY[0.5, 0.95, 0.99]::float8[]) WITHIN GROUP (ORDER BY "durationMicros") AS percentiles
        FROM "EncryptionMetric" GROUP BY "operation" ORDER BY "operation" COLLATE "C"`;
    const rows = await events.inSnapshot(async ([reads]) => reads.operations(await reads.plan(WINDOW)));
    for (const exact of direct) {
      const histogram = new Map<number, number>();
      const mine = rows.filter((row) => row.operation === exact.operation);
      for (const row of mine) addBins(histogram, row.bins.map(Number), row.counts.map(toNumber));
      expect(mine.reduce((sum, row) => sum + toNumber(row.count), 0)).toBe(toNumber(exact.total));
      percentilesMicros(histogram, [0.5, 0.95, 0.99]).forEach((estimate, i) => {
        expect(Math.abs(estimate - exact.percentiles[i])).toBeLessThanOrEqual(exact.percentiles[i] * PERCENTILE_RELATIVE_ERROR + 1e-9);
      });
    }
    // The bound is tight: a value at a bin's lower edge reads 2^(1/16) higher.
    expect(binMicros(9) / 2).toBeCloseTo(1 + PERCENTILE_RELATIVE_ERROR, 12);
  });

  it('writes a batch in one statement, with or without microseconds, and reads the window with both ends included', async () => {
    const row = (timestamp: Date, durationMicros?: number) => ({
      operation: 'decrypt' as const, status: 'failure' as const, errorReason: 'KEY_REVOKED', duration: 1, durationMicros, timestamp,
    });
    await events.insertMany([
      row(WINDOW.from, 420), row(WINDOW.to), row(new Date(WINDOW.from.getTime() - 1)), row(new Date(WINDOW.to.getTime() + 1)),
    ]);
    const rows = await events.inSnapshot(async ([reads]) => reads.operations(await reads.plan(WINDOW)));
    expect(rows.map((entry) => ({ ...entry, count: toNumber(entry.count), minMicros: toNumber(entry.minMicros), maxMicros: toNumber(entry.maxMicros) })))
      .toMatchObject([{ operation: 'decrypt', errorReason: 'KEY_REVOKED', count: 2, minMicros: 420, maxMicros: 1000 }]);
    expect(await db.prisma.encryptionMetric.count({ where: { id: { not: '' } } })).toBe(4);
  });

  it('gives every lane of a snapshot group the same snapshot, and lets groups take turns', async () => {
    const row = (timestamp: Date) => ({ operation: 'encrypt' as const, status: 'success' as const, duration: 1, timestamp });
    const counted = async (reads: MetricsReads) =>
      (await reads.operations({ buckets: [], raw: [{ from: WINDOW.from, to: NOW }], builds: new Map() })).reduce((sum, entry) => sum + toNumber(entry.count), 0);
    await events.insertMany([row(new Date(NOW.getTime() - 10))]);
    const seen = await events.inSnapshot(async (lanes) => {
      expect(lanes).toHaveLength(3);
      const before = await counted(lanes[0]);
      // Committed after the snapshot was exported (and before the other lanes first read): invisible to all.
      await events.insertMany([row(new Date(NOW.getTime() - 5))]);
      return [before, ...(await Promise.all(lanes.map(counted)))];
    }, 3);
    expect(seen).toEqual([1, 1, 1, 1]);
    // A pool of two keeps one connection for the rest: one lane.
    const small = new MetricEventsRepository(db.prisma, { ...db.config, database: { ...db.config.database, poolSize: 2 } });
    expect(await small.inSnapshot(async (lanes) => lanes.length, 3)).toBe(1);
    // Groups run one at a time: ten groups of three lanes on a pool of ten do not starve each other.
    const counts = await Promise.all(Array.from({ length: 10 }, () => events.inSnapshot((lanes) => Promise.all(lanes.map(counted)), 3)));
    expect(counts).toEqual(Array.from({ length: 10 }, () => [2, 2, 2]));
  });

  it('makes day partitions (rows waiting in the default partition move in) and drops those past retention', async () => {
    const at = (iso: string) => ({ operation: 'encrypt' as const, status: 'success' as const, duration: 1, timestamp: new Date(iso) });
    await events.insertMany([at('2026-05-01T10:00:00.000Z'), at('2026-05-02T23:59:59.999Z'), at('2026-05-03T00:00:00.000Z')]);
    const where = (table: string) => db.prisma.$queryRawUnsafe<{ n: number }[]>(`SELECT count(*)::int AS n FROM "${table}"`);
    expect(await where('EncryptionMetric_default')).toEqual([{ n: 3 }]);

    expect(await events.ensurePartitions(new Date('2026-05-01T05:00:00Z'), new Date('2026-05-02T05:00:00Z'))).toBe(2);
    expect(await events.ensurePartitions(new Date('2026-05-01T05:00:00Z'), new Date('2026-05-02T05:00:00Z'))).toBe(0);
    expect(await where('EncryptionMetric_default')).toEqual([{ n: 1 }]);
    expect(await where('EncryptionMetric_p20260502')).toEqual([{ n: 1 }]);
    expect(await events.partitionDays()).toEqual([new Date('2026-05-01T00:00:00Z'), new Date('2026-05-02T00:00:00Z')]);

    // A day goes once all of it is past the cutoff: 2026-05-02 stays while the cutoff is inside it.
    expect(await events.dropPartitionsBefore(new Date('2026-05-02T23:59:59.999Z'))).toBe(1);
    expect(await events.partitionDays()).toEqual([new Date('2026-05-02T00:00:00Z')]);
    expect(await events.dropPartitionsBefore(new Date('2026-05-03T00:00:00Z'))).toBe(1);
    expect(await db.prisma.encryptionMetric.count()).toBe(1);
    expect(await events.partitionDays()).toEqual([]);
  });

  it('deletes, by batch, the rows of the default partition strictly older than the retention cutoff', async () => {
    const row = (timestamp: Date) => ({ operation: 'encrypt' as const, status: 'success' as const, duration: 1, timestamp });
    await events.insertMany([row(new Date(NOW.getTime() - 2)), row(new Date(NOW.getTime() - 1)), row(NOW)]);
    expect(await events.deleteBefore(NOW, null, 1)).toEqual({ changed: 1, cursor: new Date(NOW.getTime() - 2) });
    expect(await events.deleteBefore(NOW, new Date(NOW.getTime() - 2), 1)).toMatchObject({ changed: 1 });
    expect(await events.deleteBefore(NOW, new Date(NOW.getTime() - 1), 1)).toMatchObject({ changed: 0 });
    expect((await db.prisma.encryptionMetric.findMany()).map((metric) => metric.timestamp)).toEqual([NOW]);
  });

  it('orders ids and compares failure rates in memory exactly as PostgreSQL does (COLLATE "C", numeric)', async () => {
    const ids = ['b', 'a', 'ab', 'A', 'Z', '_', '-', '\u{1F600}', '\uFFFD', '\uE000', 'é', 'e', 'ä', 'a b', 'k1', 'k10', 'k9'];
    const ordered = await db.prisma.$queryRaw<{ id: string }[]>`SELECT id FROM unnest(${ids}::text[]) AS id ORDER BY id COLLATE "C"`;
    expect([...ids].sort(compareC)).toEqual(ordered.map((row) => row.id));

    const cases: [number, number][] = [];
    for (let operations = 1; operations <= 40; operations += 1) {
      for (let failures = 0; failures <= operations; failures += 1) cases.push([failures, operations]);
    }
    for (const minRate of [0.2, 0.1, 0.3, 1 / 3, 0.7, 1e-7, 1, 0]) {
      const passes = problemKeyTest({ minFailures: 0, minRate });
      const sql = await db.prisma.$queryRaw<{ passed: boolean[] }[]>`
        SELECT array_agg(f >= ${String(minRate)}::numeric * o ORDER BY i) AS passed
          FROM unnest(${cases.map((c) => c[0])}::int[], ${cases.map((c) => c[1])}::int[]) WITH ORDINALITY AS c(f, o, i)`;
      expect(cases.map(([failures, operations]) => passes(failures, operations))).toEqual(sql[0].passed);
    }
  });
});

import { IdTable, KeyPart, RollupBucketCache } from './rollup-bucket-cache';

const part = (rows: number): KeyPart => ({
  ids: new Int32Array(rows), operations: new Int32Array(rows), failures: new Int32Array(rows),
});

describe('RollupBucketCache', () => {
  it('gives a part back only for the build it was read at, and never keeps one without a build', () => {
    const cache = new RollupBucketCache(1024 * 1024);
    const kept = part(3);
    cache.put('failingKeys', '3600:0', '7', kept);
    expect(cache.get('failingKeys', '3600:0', '7')).toBe(kept);
    expect(cache.get('failingKeys', '3600:0', '8')).toBeUndefined();
    expect(cache.get('failingKeys', '3600:0', undefined)).toBeUndefined();
    expect(cache.get('devices', '3600:0', '7')).toBeUndefined();
    cache.put('failingKeys', '600:0', undefined, part(3));
    expect(cache.size.entries).toBe(1);
  });

  it('evicts the least recently used past its budget, and keeps nothing with a budget of 0', () => {
    // 12 bytes a row plus the entry's overhead: three parts of 1,000 rows fit in 40,000 bytes, four do not.
    const cache = new RollupBucketCache(40_000);
    for (const bucket of ['a', 'b', 'c']) cache.put('failingKeys', bucket, '1', part(1000));
    expect(cache.get('failingKeys', 'a', '1')).toBeDefined();
    cache.put('failingKeys', 'd', '1', part(1000));
    expect(['a', 'b', 'c', 'd'].map((bucket) => cache.get('failingKeys', bucket, '1') !== undefined)).toEqual([true, false, true, true]);
    expect(cache.size.bytes).toBeLessThanOrEqual(40_000);

    const none = new RollupBucketCache(0);
    none.put('failingKeys', 'a', '1', part(1));
    expect(none.get('failingKeys', 'a', '1')).toBeUndefined();
  });

  it('empties itself with a new id table once the ids outgrow half the budget, between summaries', () => {
    const cache = new RollupBucketCache(100_000);
    const table: IdTable = cache.ids;
    cache.put('failingKeys', 'a', '1', part(10));
    for (let i = 0; i < 300; i += 1) table.intern(`key-${i}`);
    cache.trim();
    expect(cache.get('failingKeys', 'a', '1')).toBeDefined();
    for (let i = 300; i < 500; i += 1) table.intern(`key-${i}`);
    cache.trim();
    expect(cache.ids).not.toBe(table);
    expect(cache.get('failingKeys', 'a', '1')).toBeUndefined();
    expect(cache.size).toEqual({ entries: 0, bytes: 0, ids: 0 });
  });
});

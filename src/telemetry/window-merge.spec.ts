import { IdTable } from './rollup-bucket-cache';
import { compareC, decimalFraction, mergeDevices, problemKeyTest, rankProblemKeys, sumKeyParts } from './window-merge';

const ints = (values: number[]) => Int32Array.from(values);

describe('window merge', () => {
  it('orders ids as COLLATE "C" does: by code point, a prefix first', () => {
    const sorted = ['b', 'a', 'ab', 'A', '\u{1F600}', '\uFFFD', 'é', 'a\u0000'].sort(compareC);
    // U+1F600 (a surrogate pair in JavaScript) sorts after U+FFFD, as its UTF-8 bytes do.
    expect(sorted).toEqual(['A', 'a', 'a\u0000', 'ab', 'b', 'é', '\uFFFD', '\u{1F600}']);
  });

  it('reads a rate as the decimal its text says, as numeric does', () => {
    expect(decimalFraction(0.2)).toEqual({ numerator: 2n, denominator: 10n });
    expect(decimalFraction(1e-7)).toEqual({ numerator: 1n, denominator: 10_000_000n });
    expect(decimalFraction(1)).toEqual({ numerator: 1n, denominator: 1n });
    expect(decimalFraction(0)).toEqual({ numerator: 0n, denominator: 1n });
    // 0.2 * 15 is 3.0000000000000004 in floating point: 3 of 15 must still pass.
    const passes = problemKeyTest({ minFailures: 3, minRate: 0.2 });
    expect(passes(3, 15)).toBe(true);
    expect(passes(3, 16)).toBe(false);
    expect(passes(2, 2)).toBe(false);
  });

  it('sums devices across parts and keeps the busiest and the most refused, ties by id', () => {
    const table = new IdTable();
    const id = (name: string) => table.intern(name);
    const part = (rows: [string, number, number, number, number][]) => ({
      ids: ints(rows.map(([name]) => id(name))),
      operations: ints(rows.map((row) => row[1])),
      failures: ints(rows.map((row) => row[2])),
      rejections: ints(rows.map((row) => row[3])),
      lastRejected: Float64Array.from(rows.map((row) => row[4])),
    });
    const merged = mergeDevices(
      [
        part([['d2', 5, 1, 0, NaN], ['d1', 5, 0, 2, 1000], ['d3', 1, 1, 1, 500]]),
        part([['d3', 9, 0, 1, 2000], ['d4', 2, 2, 0, NaN]]),
        part([]),
      ],
      table,
      2,
    );
    expect(merged).toEqual({
      listed: 4,
      top: [{ deviceId: 'd3', operations: 10, failures: 1 }, { deviceId: 'd1', operations: 5, failures: 0 }],
      rateLimitedCount: 2,
      rateLimited: [
        { deviceId: 'd1', rejections: 2, lastRejectedAt: new Date(1000) },
        { deviceId: 'd3', rejections: 2, lastRejectedAt: new Date(2000) },
      ],
    });
  });

  it('ranks problem keys by failures, then id, and counts every one over both thresholds', () => {
    const table = new IdTable();
    const part = (rows: [string, number, number][]) => ({
      ids: ints(rows.map(([name]) => table.intern(name))),
      operations: ints(rows.map((row) => row[1])),
      failures: ints(rows.map((row) => row[2])),
    });
    const totals = sumKeyParts([part([['k1', 10, 3], ['k2', 10, 5], ['k3', 4, 0]]), part([['k1', 5, 0], ['k4', 5, 5], ['k3', 1, 1]])], table);
    expect(totals.failing.map((id) => table.names[id])).toEqual(['k1', 'k2', 'k4', 'k3']);
    const ranked = rankProblemKeys(totals.failing, totals, table, { minFailures: 3, minRate: 0.2 }, 2);
    // k1: 3 of 15 (exactly the rate); k3: 1 failure, too few.
    expect(ranked).toEqual({
      count: 3,
      keys: [{ keyId: 'k2', operations: 10, failures: 5 }, { keyId: 'k4', operations: 5, failures: 5 }],
    });
    expect(rankProblemKeys(totals.failing, totals, table, { minFailures: 3, minRate: 0.2 }, 0)).toEqual({ count: 3, keys: [] });
  });
});

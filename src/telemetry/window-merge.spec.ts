import { IdTable } from './rollup-bucket-cache';
import { compareC, decimalFraction, DeviceTotals, mergeDevices, problemKeyTest, rankProblemKeys, sumKeyParts } from './window-merge';

const ints = (values: number[]) => Int32Array.from(values);

/** A device part of (id, operations) rows: no failure, no rejection. */
const operationsOnly = (table: IdTable, rows: [string, number][]) => ({
  ids: ints(rows.map(([name]) => table.intern(name))),
  operations: ints(rows.map((row) => row[1])),
  failures: ints(rows.map(() => 0)),
  rejections: ints(rows.map(() => 0)),
  lastRejected: Float64Array.from(rows.map(() => NaN)),
});

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

  it('finds the listed devices whose raw operations could lift them among the busiest, ties by id', () => {
    const table = new IdTable();
    const part = (rows: [string, number][]) => operationsOnly(table, rows);
    const known = part([['raw-a', 4], ['raw-b', 4]]);
    const lists = [part([['l1', 9], ['l2', 6], ['l3', 5], ['l5', 5], ['l0', 5], ['l6', 4]])];
    const names = (ids: number[]) => ids.map((id) => table.names[id]);
    const totals = new DeviceTotals(table).add(...lists, known);
    const uncertain = (rawBound: number, limit: number, alsoKnown: string[] = []) =>
      names(totals.uncertain([...known.ids, ...alsoKnown.map((name) => table.intern(name))], rawBound, limit));
    // Limit 2: the 2nd best known count is l2's 6. With at most 1 raw operation, l3 (5 + 1, "l3" after "l2")
    // and l0 (5 + 1, "l0" before "l2") tie it: only l0 could pass; l1 and l2 are among the best themselves.
    expect(uncertain(1, 2)).toEqual(['l1', 'l2', 'l0']);
    // One already asked for (no raw row) is not uncertain; with no raw bound, none is.
    expect(uncertain(1, 2, ['l0'])).toEqual(['l1', 'l2']);
    expect(uncertain(0, 2)).toEqual([]);
    // At most 2 raw operations: l3, l5 and l0 reach 7, past l2's 6; l6 reaches 6, after "l2".
    expect(uncertain(2, 2)).toEqual(['l1', 'l2', 'l3', 'l5', 'l0']);
    // Fewer listed and known devices than the limit: every listed one.
    expect(uncertain(1, 20)).toEqual(['l1', 'l2', 'l3', 'l5', 'l0', 'l6']);
  });

  it('sums devices added after the id table grew', () => {
    const table = new IdTable();
    const part = (rows: [string, number][]) => operationsOnly(table, rows);
    const totals = new DeviceTotals(table).add(part([['a', 1]]));
    // Ids interned after the first parts were added (raw rows' devices), past the arrays' first size.
    totals.add(part(Array.from({ length: 40 }, (_, i): [string, number] => [`n${i}`, i + 2])), part([['a', 2]]));
    expect(totals.merged(3).top).toEqual([
      { deviceId: 'n39', operations: 41, failures: 0 },
      { deviceId: 'n38', operations: 40, failures: 0 },
      { deviceId: 'n37', operations: 39, failures: 0 },
    ]);
    expect(totals.listed.length).toBe(41);
    expect(totals.operations[table.intern('a')]).toBe(3);
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
    // On top of kept sums (left as they were), with ids interned after them.
    const kept = sumKeyParts([part([['k1', 10, 3]])], table);
    const more = sumKeyParts([part([['k1', 5, 1], ['k9', 2, 2]])], table, kept);
    expect(more.failing.map((id) => table.names[id])).toEqual(['k1', 'k9']);
    expect([more.operations[table.intern('k1')], more.failures[table.intern('k1')], more.failures[table.intern('k9')]]).toEqual([15, 4, 2]);
    expect([kept.operations[table.intern('k1')], kept.failures[table.intern('k1')], kept.failing.length]).toEqual([10, 3, 1]);
  });
});

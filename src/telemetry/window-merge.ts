import type { DevicePart, IdTable, KeyPart } from './rollup-bucket-cache';

/**
 * The summary's device and problem-key figures merged in memory from bucket parts
 * (rollup-bucket-cache.ts) and the raw rows' part, with the same results and order as
 * the SQL they replace: counts summed per id, ties broken by id in PostgreSQL's "C"
 * collation, the failure rate compared as exact decimals.
 */

/** PostgreSQL's COLLATE "C" (UTF-8 bytes, so code points) for JavaScript strings. */
export function compareC(a: string, b: string): number {
  const length = Math.min(a.length, b.length);
  for (let i = 0; i < length; i += 1) {
    if (a.charCodeAt(i) !== b.charCodeAt(i)) return a.codePointAt(i)! - b.codePointAt(i)!;
  }
  return a.length - b.length;
}

/** A decimal as the fraction PostgreSQL's numeric reads from its text (String(0.2) = "0.2": 2/10). */
export function decimalFraction(value: number): { numerator: bigint; denominator: bigint } {
  const [mantissa, exponent = '0'] = String(value).split('e');
  const [whole, fraction = ''] = mantissa.split('.');
  let numerator = BigInt(whole + fraction);
  let scale = fraction.length - Number(exponent);
  if (scale < 0) {
    numerator *= 10n ** BigInt(-scale);
    scale = 0;
  }
  return { numerator, denominator: 10n ** BigInt(scale) };
}

/** The first `limit` of `ids` by `before` (a strict order), in that order. */
function firstBy(ids: Iterable<number>, limit: number, before: (a: number, b: number) => boolean): number[] {
  const best: number[] = [];
  if (limit <= 0) return best;
  for (const id of ids) {
    if (best.length === limit && !before(id, best[limit - 1])) continue;
    let at = best.length === limit ? limit - 1 : best.length;
    while (at > 0 && before(id, best[at - 1])) {
      best[at] = best[at - 1];
      at -= 1;
    }
    best[at] = id;
  }
  return best;
}

export interface MergedDevices {
  /** Devices in any part. */
  listed: number;
  top: { deviceId: string; operations: number; failures: number }[];
  rateLimitedCount: number;
  rateLimited: { deviceId: string; rejections: number; lastRejectedAt: Date }[];
}

/** Most `counts` first, then by id in "C" order. */
const byCountThenName = (counts: ArrayLike<number>, names: string[]) => (a: number, b: number) =>
  counts[a] > counts[b] || (counts[a] === counts[b] && compareC(names[a], names[b]) < 0);

/**
 * Device parts summed by id as they are added (each part once: the summary adds its
 * lists, then the raw rows' devices as they come), with the ids in the order first seen.
 * Grows with the id table (raw rows may intern new ids after the lists were added).
 */
export class DeviceTotals {
  operations = new Float64Array(0);
  failures = new Float64Array(0);
  rejections = new Float64Array(0);
  lastRejected = new Float64Array(0);
  private seen = new Uint8Array(0);
  readonly listed: number[] = [];

  constructor(private readonly table: IdTable) {}

  add(...parts: DevicePart[]): this {
    this.grow(this.table.names.length);
    const { operations, failures, rejections, lastRejected, seen, listed } = this;
    for (const part of parts) {
      for (let row = 0; row < part.ids.length; row += 1) {
        const id = part.ids[row];
        if (seen[id] === 0) {
          seen[id] = 1;
          listed.push(id);
        }
        operations[id] += part.operations[row];
        failures[id] += part.failures[row];
        rejections[id] += part.rejections[row];
        if (part.lastRejected[row] > lastRejected[id]) lastRejected[id] = part.lastRejected[row];
      }
    }
    return this;
  }

  /** The first `count` by operations, then by id. */
  busiest(count: number): number[] {
    return firstBy(this.listed, count, byCountThenName(this.operations, this.table.names));
  }

  /**
   * The listed devices whose raw operations are unknown (not in `known`: the raw rows'
   * devices read so far, and devices asked for that have no raw row) and could place them
   * among the first `limit` by operations: each has at most `rawBound` raw operations (the
   * `limit`-th busiest raw device's count), so one whose count so far plus that bound does
   * not pass the `limit`-th best of the counts so far (each at most its device's window
   * count) is preceded by `limit` devices.
   */
  uncertain(known: Iterable<number>, rawBound: number, limit: number): number[] {
    if (rawBound <= 0 || limit <= 0) return [];
    const { names } = this.table;
    const { operations, listed } = this;
    const isKnown = new Set(known);
    const best = this.busiest(limit);
    const inBest = new Set(best);
    const last = best[limit - 1];
    return listed.filter((id) => {
      if (isKnown.has(id)) return false;
      if (inBest.has(id) || last === undefined) return true;
      const most = operations[id] + rawBound;
      return !(operations[last] > most || (operations[last] === most && compareC(names[last], names[id]) < 0));
    });
  }

  merged(limit: number): MergedDevices {
    const { names } = this.table;
    const { operations, failures, rejections, lastRejected, listed } = this;
    const refused = listed.filter((id) => rejections[id] > 0);
    const mostRefused = firstBy(refused, limit, byCountThenName(rejections, names));
    return {
      listed: listed.length,
      top: this.busiest(limit).map((id) => ({ deviceId: names[id], operations: operations[id], failures: failures[id] })),
      rateLimitedCount: refused.length,
      rateLimited: mostRefused.map((id) => ({ deviceId: names[id], rejections: rejections[id], lastRejectedAt: new Date(lastRejected[id]) })),
    };
  }

  private grow(size: number) {
    if (size <= this.seen.length) return;
    const capacity = Math.max(size, this.seen.length * 2);
    const grown = (old: Float64Array, fill: number) => {
      const array = new Float64Array(capacity).fill(fill);
      array.set(old);
      return array;
    };
    this.operations = grown(this.operations, 0);
    this.failures = grown(this.failures, 0);
    this.rejections = grown(this.rejections, 0);
    this.lastRejected = grown(this.lastRejected, -Infinity);
    const seen = new Uint8Array(capacity);
    seen.set(this.seen);
    this.seen = seen;
  }
}

export function mergeDevices(parts: DevicePart[], table: IdTable, limit: number): MergedDevices {
  return new DeviceTotals(table).add(...parts).merged(limit);
}

export interface MergedProblemKeys {
  /** Keys over both thresholds. */
  count: number;
  keys: { keyId: string; operations: number; failures: number }[];
}

/** Sums of key parts by id: operations and failures, and the ids that failed, in the order first seen. */
export interface KeyTotals {
  operations: Float64Array;
  failures: Float64Array;
  failing: number[];
}

/** `parts` summed by id, on top of `base` (sums over the same id table, left unchanged) if given. */
export function sumKeyParts(parts: KeyPart[], table: IdTable, base?: KeyTotals): KeyTotals {
  const size = table.names.length;
  const totals: KeyTotals = { operations: new Float64Array(size), failures: new Float64Array(size), failing: [...(base?.failing ?? [])] };
  const seen = new Uint8Array(size);
  if (base) {
    totals.operations.set(base.operations);
    totals.failures.set(base.failures);
    for (const id of base.failing) seen[id] = 1;
  }
  for (const part of parts) {
    for (let row = 0; row < part.ids.length; row += 1) {
      const id = part.ids[row];
      totals.operations[id] += part.operations[row];
      if (part.failures[row] > 0) {
        totals.failures[id] += part.failures[row];
        if (seen[id] === 0) {
          seen[id] = 1;
          totals.failing.push(id);
        }
      }
    }
  }
  return totals;
}

/** failures / operations at least minRate, compared as exact decimals (numeric in SQL), with at least minFailures failures. */
export function problemKeyTest(thresholds: { minFailures: number; minRate: number }) {
  const { numerator, denominator } = decimalFraction(thresholds.minRate);
  return (failures: number, operations: number) =>
    failures >= thresholds.minFailures && BigInt(failures) * denominator >= numerator * BigInt(operations);
}

/** Of `ids`, those over both thresholds: how many, and the first `limit` by failures (most first), then id. */
export function rankProblemKeys(
  ids: number[],
  totals: { operations: ArrayLike<number>; failures: ArrayLike<number> },
  table: IdTable,
  thresholds: { minFailures: number; minRate: number },
  limit: number,
): MergedProblemKeys {
  const { operations, failures } = totals;
  const passes = problemKeyTest(thresholds);
  const problems = ids.filter((id) => passes(failures[id], operations[id]));
  const { names } = table;
  const first = firstBy(problems, limit, byCountThenName(failures, names));
  return {
    count: problems.length,
    keys: first.map((id) => ({ keyId: names[id], operations: operations[id], failures: failures[id] })),
  };
}

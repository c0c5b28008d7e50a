/**
 * Numbers as the pg adapter returns them: count(*) is a bigint, numeric a Decimal,
 * float8 a number, and values inside json_agg plain JSON numbers or strings.
 */
export type SqlNumber = bigint | number | { toNumber(): number } | string | null | undefined;

/** Exact for counts below 2^53. null (no rows) is 0. */
export function toNumber(value: SqlNumber): number {
  if (value === null || value === undefined) return 0;
  if (typeof value === 'number') return value;
  if (typeof value === 'bigint' || typeof value === 'string') return Number(value);
  return value.toNumber();
}

/** Half away from zero at `decimals` places (rates: 4, milliseconds: 2). */
export function round(value: number, decimals: number): number {
  const factor = 10 ** decimals;
  return Math.round(value * factor) / factor;
}

/** part / whole in 0..1, to 4 decimals; null when there is nothing to divide by. */
export function rate(part: number, whole: number): number | null {
  return whole > 0 ? round(part / whole, 4) : null;
}

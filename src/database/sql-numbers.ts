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

/**
 * The integers of int[] or bigint[] values sent as text (::text), e.g. {1,-2,3} or {}, or
 * several of them one after the other ({1,2}{3}): exact below 2^53 (counts of rows). Read
 * digit by digit: split(',').map(Number) made a string per element, 4 times slower with the garbage.
 */
export function integersOfArrayText(text: string): number[] {
  const numbers: number[] = [];
  let value = 0;
  let sign = 1;
  let digits = false;
  for (let i = 0; i < text.length; i += 1) {
    const code = text.charCodeAt(i);
    if (code >= 48 && code <= 57) {
      value = value * 10 + (code - 48);
      digits = true;
    } else if (code === 45) {
      sign = -1;
    } else {
      if (digits) numbers.push(sign * value);
      value = 0;
      sign = 1;
      digits = false;
    }
  }
  if (digits) numbers.push(sign * value);
  return numbers;
}

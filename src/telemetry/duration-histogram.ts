/**
 * The fixed duration histogram of the rollups (and of the summary's reads of raw rows):
 * durations in microseconds, bin 0 for below 1 us, else bin i = floor(8 * log2(us)) + 1,
 * which holds [2^((i-1)/8), 2^(i/8)) us: 8 log-scale bins per doubling, the ratio of a
 * bin's bounds is 2^(1/8). The SQL function kms_metric_duration_bin (migration
 * 20261212000000) is the one definition used to fill it.
 *
 * A percentile read from it takes, for the rank it falls on, the geometric middle of
 * that rank's bin, 2^((i-1/2)/8) us, and interpolates between the ranks around the
 * fraction as percentile_cont does. Every value v of bin i lies in [lo, lo * 2^(1/8)],
 * so the estimate e = lo * 2^(1/16) is within a factor 2^(1/16) of v: the worst-case
 * relative error is 2^(1/16) - 1 = 4.43% (over) and 1 - 2^(-1/16) = 4.24% (under).
 * Interpolating between two such estimates keeps the bound (a weighted mean of values
 * each within the factor). Durations below 1 us read as 0.
 */
export const BINS_PER_DOUBLING = 8;

/** 2^(1/16) - 1: the largest relative error of a percentile read from the histogram. */
export const PERCENTILE_RELATIVE_ERROR = 2 ** (1 / (2 * BINS_PER_DOUBLING)) - 1;

/** The representative value, in microseconds, of bin `bin`. */
export function binMicros(bin: number): number {
  return bin <= 0 ? 0 : 2 ** ((bin - 0.5) / BINS_PER_DOUBLING);
}

/** Counts by bin (any order of insertion; sparse). */
export type Histogram = Map<number, number>;

export function addBins(histogram: Histogram, bins: number[], counts: number[]) {
  bins.forEach((bin, i) => histogram.set(bin, (histogram.get(bin) ?? 0) + counts[i]));
}

/**
 * The continuous percentiles (fractions 0..1) of the histogram, in microseconds, by
 * percentile_cont's rule (0-based ranks floor and ceil of f * (n - 1), interpolated).
 */
export function percentilesMicros(histogram: Histogram, fractions: number[]): number[] {
  const bins = [...histogram.entries()].filter(([, n]) => n > 0).sort((a, b) => a[0] - b[0]);
  const total = bins.reduce((sum, [, n]) => sum + n, 0);
  if (total === 0) return fractions.map(() => 0);
  const atRank = (rank: number) => {
    let upto = 0;
    for (const [bin, n] of bins) {
      upto += n;
      if (upto > rank) return binMicros(bin);
    }
    return binMicros(bins[bins.length - 1][0]);
  };
  return fractions.map((fraction) => {
    const position = fraction * (total - 1);
    const below = atRank(Math.floor(position));
    const above = atRank(Math.ceil(position));
    return below + (position - Math.floor(position)) * (above - below);
  });
}

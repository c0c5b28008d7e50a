/** Rollup grains, coarsest first: a UTC day, an hour, 10 minutes. */
export const GRAINS_SECONDS = [86_400, 3_600, 600] as const;
/** The grain a grain is built from: null for the raw rows (a day is built from its hours). */
export const BUILT_FROM: Record<number, number | null> = { 86_400: 3_600, 3_600: null, 600: null };
/** Device lists are kept per hour and per 10 minutes (not per day). */
export const DEVICE_LIST_GRAIN_SECONDS = 3_600;
export const FINEST_GRAIN_SECONDS = GRAINS_SECONDS[GRAINS_SECONDS.length - 1];

/** A bucket: its grain and start. */
export interface Bucket {
  grainSeconds: number;
  start: Date;
}

/**
 * How the summary reads a window: whole rolled-up buckets, and raw rows for the rest
 * (half-open ranges [from, to)).
 */
export interface WindowPlan {
  buckets: Bucket[];
  raw: { from: Date; to: Date }[];
  /** Build numbers of the buckets built (bucketKey: MetricRollupBuild.build), for RollupBucketCache. */
  builds: ReadonlyMap<string, string>;
}

export const bucketKey = (grainSeconds: number, startMs: number) => `${grainSeconds}:${startMs}`;

/** The bucketKey of each bucket. */
export const bucketKeys = (buckets: Bucket[]) => buckets.map((bucket) => bucketKey(bucket.grainSeconds, bucket.start.getTime()));

/**
 * Covers [from, to] (both included, millisecond timestamps) from its start: at each
 * point the coarsest bucket that starts there, ends inside the window and is not dirty
 * (its rollup is exact: see MetricRollups) is read from the rollups; otherwise raw rows
 * up to the next 10 minutes (or the window's end). A window starting mid-bucket reads
 * that partial 10 minutes raw, and the open 10 minutes (dirty while rows come in) too:
 * about 10 minutes of raw rows in all, plus any bucket the step has not caught up with.
 */
export function planWindow(from: Date, to: Date, dirty: Set<string>): Omit<WindowPlan, 'builds'> {
  const end = to.getTime() + 1;
  const plan: Omit<WindowPlan, 'builds'> = { buckets: [], raw: [] };
  const finest = FINEST_GRAIN_SECONDS * 1000;
  for (let t = from.getTime(); t < end; ) {
    const grain = GRAINS_SECONDS.find((seconds) => {
      const ms = seconds * 1000;
      return t % ms === 0 && t + ms <= end && !dirty.has(bucketKey(seconds, t));
    });
    if (grain !== undefined) {
      plan.buckets.push({ grainSeconds: grain, start: new Date(t) });
      t += grain * 1000;
      continue;
    }
    const next = Math.min(Math.floor(t / finest) * finest + finest, end);
    const last = plan.raw[plan.raw.length - 1];
    if (last && last.to.getTime() === t) last.to = new Date(next);
    else plan.raw.push({ from: new Date(t), to: new Date(next) });
    t = next;
  }
  return plan;
}

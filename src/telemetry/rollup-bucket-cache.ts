import type { SqlNumber } from '../database';
import type { Bucket } from './window-plan';

/**
 * What one process keeps of closed buckets' rollups for the metrics summary (operation
 * rows, the keys that failed, device lists and sketches), so that a summary reads from
 * PostgreSQL only the buckets it has not seen yet (or that were rebuilt since) and the
 * raw rows of the window's open edges.
 *
 * Why it is exact: an entry is keyed by its bucket AND the bucket's build number
 * (MetricRollupBuild, new at every rebuild, read in the summary's snapshot), and a
 * build's rollups never change; a bucket without a build number is never kept.
 *
 * Why it is small: ids (key and device ids) are interned once per process and the
 * rows kept as typed arrays, 12 bytes a key row and 24 a device row; entries are
 * evicted least recently used first past `budgetBytes`, and the id table is emptied
 * with everything when it alone outgrows half the budget (ids of buckets long gone).
 */

/** Key and device ids as small integers. Replaced, not cleared, so old parts never mix with a new table. */
export class IdTable {
  private readonly ids = new Map<string, number>();
  readonly names: string[] = [];

  intern(name: string): number {
    let id = this.ids.get(name);
    if (id === undefined) {
      id = this.names.length;
      this.ids.set(name, id);
      this.names.push(name);
    }
    return id;
  }

  /** Rough bytes: the name, the map entry and the array slot. */
  get bytes(): number {
    return this.names.length * 120;
  }
}

type Counts = Int32Array | Float64Array;

/** MetricKeyRollup rows of one bucket. */
export interface KeyPart {
  ids: Int32Array;
  /** Int32Array for one bucket; Float64Array where buckets were summed. */
  operations: Counts;
  failures: Counts;
}

/** One bucket's MetricDeviceRollup rows (lastRejected: epoch ms, NaN when none). */
export interface DevicePart {
  ids: Int32Array;
  operations: Counts;
  failures: Counts;
  rejections: Counts;
  lastRejected: Float64Array;
}

/** One bucket's MetricDeviceSketch row. */
export interface SketchPart {
  registers: Uint8Array;
  floor: number;
}

/**
 * Durations of the rows of one (operation, status, errorReason), in microseconds, with
 * their histogram (duration-histogram.ts): from rollups and raw rows alike.
 */
export interface OperationAggregateRow {
  operation: string;
  status: string;
  errorReason: string | null;
  count: SqlNumber;
  sumMicros: SqlNumber;
  minMicros: SqlNumber;
  maxMicros: SqlNumber;
  bins: number[];
  counts: SqlNumber[];
}

/** One bucket's MetricRollup rows. */
export interface OperationsPart {
  rows: OperationAggregateRow[];
}

interface PartKinds {
  operations: OperationsPart;
  /** The keys that failed in the bucket (MetricKeyRollup rows with failures). */
  failingKeys: KeyPart;
  devices: DevicePart;
  sketch: SketchPart;
}
export type PartKind = keyof PartKinds;
export type PartOf<K extends PartKind> = PartKinds[K];

interface Entry {
  build: string;
  table: IdTable;
  part: unknown;
  bytes: number;
}

const ENTRY_OVERHEAD_BYTES = 200;

function bytesOf(part: PartKinds[PartKind]): number {
  if ('registers' in part) return part.registers.byteLength + ENTRY_OVERHEAD_BYTES;
  // A row's strings and numbers, and its histogram's two arrays.
  if ('rows' in part) return part.rows.reduce((sum, row) => sum + 250 + row.bins.length * 20, ENTRY_OVERHEAD_BYTES);
  const arrays = Object.values(part) as ArrayBufferView[];
  return arrays.reduce((sum, array) => sum + array.byteLength, ENTRY_OVERHEAD_BYTES);
}

export class RollupBucketCache {
  private readonly entries = new Map<string, Entry>();
  private usedBytes = 0;
  private table = new IdTable();

  constructor(private readonly budgetBytes: number) {}

  private wanted: { kind: PartKind; buckets: Bucket[] }[] = [];

  /** Notes buckets a summary read summed (not one by one), to be read and kept in the background. */
  want(kind: PartKind, buckets: Bucket[]): void {
    if (this.budgetBytes > 0) this.wanted.push({ kind, buckets });
  }

  /** The buckets wanted since the last call. */
  takeWanted(): { kind: PartKind; buckets: Bucket[] }[] {
    const wanted = this.wanted;
    this.wanted = [];
    return wanted;
  }

  /** What the last summary learnt of its window's buckets as a whole (see window), and which buckets at which builds. */
  private lastWindow?: { buckets: string; table: IdTable; kept: unknown };

  /**
   * What summaries keep of the buckets named by `buckets` (with their build numbers) as a
   * whole (the sum of their failing keys, the problem-key candidates' operations in them):
   * a window's buckets change every 10 minutes, so most summaries read the same ones. The
   * last window's only, made by `make` when it is another; not kept with no budget, gone
   * with the id table.
   */
  window<T>(buckets: string, make: () => T): T {
    const last = this.lastWindow;
    if (last && last.buckets === buckets && last.table === this.table) return last.kept as T;
    const kept = make();
    if (this.budgetBytes > 0) this.lastWindow = { buckets, table: this.table, kept };
    return kept;
  }

  /** The id table parts must be interned with (the current one). */
  get ids(): IdTable {
    return this.table;
  }

  get size(): { entries: number; bytes: number; ids: number } {
    return { entries: this.entries.size, bytes: this.usedBytes + this.table.bytes, ids: this.table.names.length };
  }

  get<K extends PartKind>(kind: K, bucket: string, build: string | undefined): PartKinds[K] | undefined {
    if (build === undefined) return undefined;
    const key = `${kind}:${bucket}`;
    const entry = this.entries.get(key);
    if (!entry || entry.build !== build || entry.table !== this.table) return undefined;
    // Most recently used last.
    this.entries.delete(key);
    this.entries.set(key, entry);
    return entry.part as PartKinds[K];
  }

  /** Keeps a part (interned with `ids`) unless it has no build number or is too big to keep. */
  put<K extends PartKind>(kind: K, bucket: string, build: string | undefined, part: PartKinds[K]): void {
    const key = `${kind}:${bucket}`;
    this.remove(key);
    if (build === undefined) return;
    const bytes = bytesOf(part);
    if (bytes > this.budgetBytes / 2) return;
    this.entries.set(key, { build, table: this.table, part, bytes });
    this.usedBytes += bytes;
    this.evict();
  }

  /**
   * Called once a summary is done with its parts: empties everything when the id table
   * outgrew half the budget (never during a summary: its parts use the current table).
   */
  trim(): void {
    if (this.table.bytes <= this.budgetBytes / 2) return;
    this.entries.clear();
    this.usedBytes = 0;
    this.lastWindow = undefined;
    this.table = new IdTable();
  }

  private evict() {
    for (const [key] of this.entries) {
      if (this.usedBytes + this.table.bytes <= this.budgetBytes) return;
      this.remove(key);
    }
  }

  private remove(key: string) {
    const entry = this.entries.get(key);
    if (!entry) return;
    this.entries.delete(key);
    this.usedBytes -= entry.bytes;
  }
}

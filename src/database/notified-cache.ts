import { LRUCache } from 'lru-cache';
import type { DatabaseNotifications } from './database-notifications';

export interface NotifiedCacheOptions {
  /** The notification channel whose payloads name entries that changed. */
  channel: string;
  /** Most entries held (least recently used go first). */
  max: number;
  /** Longest an entry is served; 0 turns the cache off (every read goes to the database). */
  maxAgeMs: number;
  /** Cache keys a notification's payload stands for (default: the payload itself). */
  keysOf?: (payload: string) => Iterable<string>;
  /** Called after entries are dropped for a notification or a reset (a dependent cache follows). */
  onInvalidate?: (payload: string | undefined) => void;
}

/**
 * Rows read through a cache that every change forgets at once: the database sends a
 * notification per change (triggers), and while the notification connection is down
 * the cache is empty and bypassed. Entries also expire after `maxAgeMs`, in case a
 * notification is lost without the connection dropping. A load that overlaps any
 * invalidation is returned but not kept, so a row read just before a change cannot
 * outlive it. Absent rows are never cached.
 *
 * Under traffic nobody waits for that expiry: a hit past half its age is served and
 * reloaded in the background, and concurrent misses of one key share one load. (Every
 * entry of every worker expired at once, and the requests then in flight each loaded
 * their rows: a stall of about 100 ms every `maxAgeMs` at 16 clients, bench:encryption.)
 * A load is shared only within one generation, so no read made before an invalidation
 * answers a request that came after it.
 */
export class NotifiedCache<V extends object> {
  private readonly entries?: LRUCache<string, V>;
  /** Incremented by every invalidation: a load that saw it change keeps nothing. */
  private generation = 0;
  /** Loads in flight by key, with the generation each started in. */
  private readonly loading = new Map<string, { generation: number; row: Promise<V | null> }>();

  constructor(
    private readonly notifications: DatabaseNotifications,
    private readonly options: NotifiedCacheOptions,
  ) {
    if (options.maxAgeMs > 0) this.entries = new LRUCache<string, V>({ max: options.max, ttl: options.maxAgeMs });
    notifications.subscribe(options.channel, {
      notify: (payload) => {
        for (const key of [...(options.keysOf?.(payload) ?? [payload])]) this.entries?.delete(key);
        this.generation += 1;
        options.onInvalidate?.(payload);
      },
      reset: () => this.clear(),
    });
  }

  /** The cached row, or `load()`'s (kept when nothing changed meanwhile). */
  async get(key: string, load: () => Promise<V | null>): Promise<V | null> {
    if (!this.entries || !this.notifications.isListening) return load();
    const hit = this.entries.get(key);
    if (hit) {
      if (this.entries.getRemainingTTL(key) < this.options.maxAgeMs / 2) {
        // Still valid: a failed reload leaves it to expire, and the next miss loads again.
        this.loadShared(key, load).catch(() => undefined);
      }
      return hit;
    }
    return this.loadShared(key, load);
  }

  /** One load per key and generation; its row is kept when no invalidation came meanwhile. */
  private loadShared(key: string, load: () => Promise<V | null>): Promise<V | null> {
    const generation = this.generation;
    const pending = this.loading.get(key);
    if (pending?.generation === generation) return pending.row;
    const row = load().then((loaded) => {
      if (loaded && generation === this.generation && this.notifications.isListening) this.entries!.set(key, loaded);
      return loaded;
    });
    const entry = { generation, row };
    this.loading.set(key, entry);
    const done = () => {
      if (this.loading.get(key) === entry) this.loading.delete(key);
    };
    row.then(done, done);
    return row;
  }

  /** Forgets one entry now (this process changed its row; others learn it by notification). */
  delete(key: string) {
    this.generation += 1;
    this.entries?.delete(key);
  }

  clear() {
    this.generation += 1;
    this.entries?.clear();
    this.options.onInvalidate?.(undefined);
  }

  /** Entries in the cache that `matches` (to find the keys a payload stands for). */
  *keysWhere(matches: (value: V) => boolean): Iterable<string> {
    for (const [key, value] of this.entries?.entries() ?? []) if (matches(value)) yield key;
  }
}

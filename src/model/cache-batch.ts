// A bounded in-process cache that loads in batches: `getMany(keys)` answers what it holds and
// loads every other key of the call with one call of the loader (one pipelined round trip).
// Misses are remembered for `negativeTtlMs` (negative caching). A key already being loaded is
// not loaded twice: later callers wait for the same load. A key invalidated while its load is
// in flight is answered from that load but not cached, so an invalidation is never overwritten
// by the value it invalidated.
import { LRUCache } from 'lru-cache';
import { counter } from '../core/metrics.js';

export interface BatchCacheOptions {
  /** The `cache` label of rebound_cache_requests_total. */
  name: string;
  max: number;
  /** Time to live of a found value; 0 disables caching it. */
  ttlMs: number;
  /** Time to live of a miss; 0 disables negative caching. */
  negativeTtlMs: number;
  /** Clock of the TTLs (tests); default performance.now. */
  clock?: { now(): number };
}

/** Loads the given keys; keys absent from the map do not exist. */
export type BatchLoader<V> = (keys: string[]) => Promise<Map<string, V>>;

interface Entry<V> {
  value: V | undefined;
}

interface Load<V> {
  promise: Promise<Map<string, V>>;
  /** Keys invalidated while loading; `all` after a clear. */
  stale: Set<string>;
  all: boolean;
}

const requests = counter('rebound_cache_requests_total', 'Datamart cache requests by cache and result: hit, miss (loaded from Redis), negative (a remembered miss)', ['cache', 'result']);

export class BatchCache<V> {
  readonly #cache: LRUCache<string, Entry<V>>;
  readonly #pending = new Map<string, Load<V>>();
  readonly #load: BatchLoader<V>;
  readonly #options: BatchCacheOptions;
  readonly #counters: Record<'hit' | 'miss' | 'negative', ReturnType<typeof requests.labels>>;

  constructor(options: BatchCacheOptions, load: BatchLoader<V>) {
    this.#options = options;
    this.#load = load;
    this.#cache = new LRUCache<string, Entry<V>>({ max: options.max, ...(options.clock ? { perf: options.clock, ttlResolution: 0 } : {}) });
    this.#counters = {
      hit: requests.labels(options.name, 'hit'),
      miss: requests.labels(options.name, 'miss'),
      negative: requests.labels(options.name, 'negative'),
    };
  }

  /** Values of the keys that exist (absent keys do not); one loader call for all keys not cached. */
  async getMany(keys: readonly string[]): Promise<Map<string, V>> {
    const result = new Map<string, V>();
    const waits = new Map<Load<V>, string[]>();
    const missing: string[] = [];
    for (const key of new Set(keys)) {
      const entry = this.#cache.get(key);
      if (entry !== undefined) {
        this.#counters[entry.value === undefined ? 'negative' : 'hit'].inc();
        if (entry.value !== undefined) result.set(key, entry.value);
        continue;
      }
      this.#counters.miss.inc();
      const pending = this.#pending.get(key);
      if (pending === undefined) missing.push(key);
      else if (waits.has(pending)) waits.get(pending)?.push(key);
      else waits.set(pending, [key]);
    }
    if (missing.length > 0) waits.set(this.#start(missing), missing);
    await Promise.all(
      [...waits].map(async ([load, wanted]) => {
        const loaded = await load.promise;
        for (const key of wanted) {
          const value = loaded.get(key);
          if (value !== undefined) result.set(key, value);
        }
      }),
    );
    return result;
  }

  /** Drops one key (and keeps an in-flight load of it from being cached). */
  delete(key: string): void {
    const pending = this.#pending.get(key);
    if (pending) {
      pending.stale.add(key);
      this.#pending.delete(key);
    }
    this.#cache.delete(key);
  }

  /** Drops everything, in-flight loads included. */
  clear(): void {
    for (const load of this.#pending.values()) load.all = true;
    this.#pending.clear();
    this.#cache.clear();
  }

  get size(): number {
    return this.#cache.size;
  }

  #start(keys: string[]): Load<V> {
    const load: Load<V> = { promise: this.#load(keys), stale: new Set(), all: false };
    for (const key of keys) this.#pending.set(key, load);
    const settle = (loaded: Map<string, V> | undefined): void => {
      for (const key of keys) {
        if (this.#pending.get(key) === load) this.#pending.delete(key);
        if (loaded !== undefined && !load.all && !load.stale.has(key)) this.#remember(key, loaded.get(key));
      }
    };
    load.promise.then(settle, () => settle(undefined));
    return load;
  }

  #remember(key: string, value: V | undefined): void {
    const ttl = value === undefined ? this.#options.negativeTtlMs : this.#options.ttlMs;
    if (ttl > 0) this.#cache.set(key, { value }, { ttl });
  }
}

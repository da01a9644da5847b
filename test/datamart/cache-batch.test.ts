// The batch-loading cache on its own, with an in-memory table as its source: what it answers,
// how often it loads, what it counts in rebound_cache_requests_total, and how it forgets.
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { metricsRegistry } from '../../src/core/metrics.js';
import { BatchCache } from '../../src/model/cache-batch.js';

/** A source table and the list of key batches it was asked for; `gate` holds loads until released. */
function source(table: Map<string, string>) {
  const loads: string[][] = [];
  let release: () => void = () => {};
  let gate: Promise<void> | undefined;
  const load = async (keys: string[]): Promise<Map<string, string>> => {
    loads.push([...keys]);
    const snapshot = new Map(keys.flatMap((k) => (table.has(k) ? [[k, table.get(k) as string] as const] : [])));
    if (gate) await gate;
    return snapshot;
  };
  return {
    loads,
    load,
    hold() {
      gate = new Promise((resolve) => (release = resolve));
    },
    release() {
      gate = undefined;
      release();
    },
  };
}

class Clock {
  ms = 1_000;
  now(): number {
    return this.ms;
  }
}

async function requests(cache: string): Promise<Record<string, number>> {
  const metric = (await metricsRegistry.getSingleMetric('rebound_cache_requests_total')?.get()) ?? { values: [] };
  const counts: Record<string, number> = { hit: 0, miss: 0, negative: 0 };
  for (const v of metric.values) if (v.labels.cache === cache) counts[String(v.labels.result)] = v.value;
  return counts;
}

const newName = (): string => `test-${randomBytes(3).toString('hex')}`;

describe('BatchCache', () => {
  it('loads all misses of a call at once, then answers from memory, counting hits, misses and negatives', async () => {
    const name = newName();
    const src = source(new Map([['a', 'A'], ['b', 'B']]));
    const cache = new BatchCache({ name, max: 100, ttlMs: 60_000, negativeTtlMs: 60_000 }, src.load);
    expect(await cache.getMany(['a', 'b', 'zz', 'a'])).toEqual(new Map([['a', 'A'], ['b', 'B']]));
    expect(src.loads).toEqual([['a', 'b', 'zz']]);
    expect(await cache.getMany(['a', 'zz', 'b'])).toEqual(new Map([['a', 'A'], ['b', 'B']]));
    expect(src.loads).toHaveLength(1);
    expect(await requests(name)).toEqual({ hit: 2, miss: 3, negative: 1 });
  });

  it('remembers a miss for negativeTtl only, a value for ttl only', async () => {
    const clock = new Clock();
    const table = new Map<string, string>();
    const src = source(table);
    const cache = new BatchCache({ name: newName(), max: 100, ttlMs: 10_000, negativeTtlMs: 2_000, clock }, src.load);
    expect(await cache.getMany(['k'])).toEqual(new Map());
    table.set('k', 'v1');
    clock.ms += 1_000;
    expect(await cache.getMany(['k'])).toEqual(new Map());
    clock.ms += 1_500;
    expect(await cache.getMany(['k'])).toEqual(new Map([['k', 'v1']]));
    table.set('k', 'v2');
    clock.ms += 9_000;
    expect(await cache.getMany(['k'])).toEqual(new Map([['k', 'v1']]));
    clock.ms += 1_500;
    expect(await cache.getMany(['k'])).toEqual(new Map([['k', 'v2']]));
    expect(src.loads).toEqual([['k'], ['k'], ['k']]);
  });

  it('shares one load between concurrent requests for the same key', async () => {
    const src = source(new Map([['a', 'A'], ['b', 'B']]));
    const cache = new BatchCache({ name: newName(), max: 100, ttlMs: 60_000, negativeTtlMs: 60_000 }, src.load);
    src.hold();
    const first = cache.getMany(['a']);
    const second = cache.getMany(['a', 'b']);
    src.release();
    expect(await first).toEqual(new Map([['a', 'A']]));
    expect(await second).toEqual(new Map([['a', 'A'], ['b', 'B']]));
    expect(src.loads).toEqual([['a'], ['b']]);
  });

  it('does not cache a value invalidated while it was loading', async () => {
    const table = new Map([['a', 'old']]);
    const src = source(table);
    const cache = new BatchCache({ name: newName(), max: 100, ttlMs: 60_000, negativeTtlMs: 60_000 }, src.load);
    src.hold();
    const inFlight = cache.getMany(['a']);
    table.set('a', 'new');
    cache.delete('a');
    src.release();
    expect(await inFlight).toEqual(new Map([['a', 'old']]));
    expect(await cache.getMany(['a'])).toEqual(new Map([['a', 'new']]));
    src.hold();
    const again = cache.getMany(['b']);
    cache.clear();
    table.set('b', 'B');
    src.release();
    expect(await again).toEqual(new Map());
    expect(await cache.getMany(['b'])).toEqual(new Map([['b', 'B']]));
  });

  it('stays within max entries, dropping the least recently used', async () => {
    const table = new Map(Array.from({ length: 10 }, (_, i) => [`k${i}`, `v${i}`] as const));
    const src = source(table);
    const cache = new BatchCache({ name: newName(), max: 3, ttlMs: 60_000, negativeTtlMs: 60_000 }, src.load);
    await cache.getMany([...table.keys()]);
    expect(cache.size).toBe(3);
    await cache.getMany(['k9']);
    await cache.getMany(['k0']);
    expect(src.loads).toEqual([[...table.keys()], ['k0']]);
  });

  it('passes a failed load to its callers and caches nothing of it', async () => {
    let fail = true;
    const cache = new BatchCache({ name: newName(), max: 10, ttlMs: 60_000, negativeTtlMs: 60_000 }, async (keys) => {
      if (fail) throw new Error('redis down');
      return new Map(keys.map((k) => [k, k.toUpperCase()]));
    });
    await expect(cache.getMany(['a'])).rejects.toThrow('redis down');
    fail = false;
    expect(await cache.getMany(['a'])).toEqual(new Map([['a', 'A']]));
  });
});

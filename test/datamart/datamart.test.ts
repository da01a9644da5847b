// The Datamart facade as the campaign stage uses it, on a standalone Redis and on a 3-master
// Redis Cluster: cache misses of a call loaded in one pipelined round trip, hit/miss/negative
// counts, writes of another process visible within a second, a reconnect of the invalidation
// listener dropping everything, and the suppression list.
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { metricsRegistry } from '../../src/core/metrics.js';
import { connectRedis, type RedisPort } from '../../src/core/redis/client.js';
import { Keys } from '../../src/core/redis/keys.js';
import { createLogger } from '../../src/core/log.js';
import { configSchema } from '../../src/core/config-schema.js';
import { Datamart } from '../../src/model/datamart-cache.js';
import { parseProfile } from '../../src/model/profile.js';
import { ProfileStore } from '../../src/model/profile-store.js';
import { sha256Hex } from '../../src/model/profile-values.js';
import { upsertRows } from '../../src/model/resource-store.js';
import { addSuppressions, removeSuppressions } from '../../src/model/suppressions.js';
import { waitFor } from '../support/processes.js';
import { newPrefix, targets, type Target } from '../stages/pipeline-helpers.js';
import { observedPort } from '../support/observed-port.js';

const campaign = configSchema.parse({}).campaign;
const logger = createLogger('silent');
const cleanup: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
});

const seedsOf = (target: Target) => (target.redis.cluster ?? []).map((seed) => ({ host: seed.split(':')[0] as string, port: Number(seed.split(':')[1]) }));

/** A port on a client of our own whose socket writes we count: one write = one round trip to a node. */
async function countingPort(target: Target): Promise<{ redis: RedisPort; writes: () => number; nodes: number }> {
  let writes = 0;
  const { redis, nodes } = await observedPort(target, { write: () => writes++ });
  cleanup.push(() => redis.close());
  return { redis, writes: () => writes, nodes };
}

async function port(target: Target, name = 'test-datamart'): Promise<RedisPort> {
  const redis = await connectRedis(target.redis, { connectTimeoutMs: 10_000, name });
  cleanup.push(() => redis.close());
  return redis;
}

async function datamart(redis: RedisPort, keys: Keys, started = true): Promise<Datamart> {
  const dm = new Datamart(redis, keys, campaign, logger);
  if (started) await dm.start();
  cleanup.push(() => dm.stop());
  return dm;
}

async function requests(cache: string): Promise<Record<string, number>> {
  const metric = (await metricsRegistry.getSingleMetric('rebound_cache_requests_total')?.get()) ?? { values: [] };
  const counts: Record<string, number> = { hit: 0, miss: 0, negative: 0 };
  for (const v of metric.values) if (v.labels.cache === cache) counts[String(v.labels.result)] = v.value;
  return counts;
}

const delta = (after: Record<string, number>, before: Record<string, number>) => Object.fromEntries(Object.keys(after).map((k) => [k, (after[k] ?? 0) - (before[k] ?? 0)]));

/** Kills the pub/sub connections of one client name on every node (as a network blip would). */
async function killSubscribers(target: Target, name: string): Promise<number> {
  const admins = target.name === 'standalone' ? [new Redis(target.redis.url as string)] : seedsOf(target).map((seed) => new Redis(seed));
  let killed = 0;
  try {
    for (const admin of admins) {
      const list = String(await admin.call('CLIENT', 'LIST', 'TYPE', 'pubsub'));
      for (const line of list.split('\n')) {
        const id = /\bid=(\d+)/.exec(line)?.[1];
        if (id && line.includes(` name=${name} `)) killed += Number(await admin.call('CLIENT', 'KILL', 'ID', id));
      }
    }
  } finally {
    for (const admin of admins) admin.disconnect();
  }
  return killed;
}

describe.each(targets(inject('redisUrl'), inject('redisClusterSeeds')))('datamart on $name Redis', (target) => {
  it('loads the misses of one call in one round trip per node, and answers repeats from memory', async () => {
    const keys = new Keys(newPrefix(), 16);
    const writer = await port(target);
    const ids = Array.from({ length: 40 }, (_, i) => `p${i}`);
    await new ProfileStore(writer, keys, campaign.indexedFields).upsert(ids.map((id) => parseProfile({ id, email: `${id}@example.com` })));
    await upsertRows(writer, keys, 'catalog', ids.map((id) => ({ key: `sku-${id}`, row: { sku: `sku-${id}`, name: id } })));
    const { redis, writes, nodes } = await countingPort(target);
    const dm = await datamart(redis, keys, false);

    let before = writes();
    const profiles = await dm.profiles.getMany([...ids, 'missing-1', 'missing-2']);
    expect(profiles.size).toBe(40);
    expect(writes() - before).toBeGreaterThanOrEqual(1);
    expect(writes() - before).toBeLessThanOrEqual(nodes);
    before = writes();
    expect((await dm.profiles.getMany([...ids, 'missing-1'])).size).toBe(40);
    expect(writes() - before).toBe(0);

    before = writes();
    const rows = await dm.resources.getMany('catalog', ids.map((id) => `sku-${id}`));
    expect(rows.get('sku-p7')).toEqual({ sku: 'sku-p7', name: 'p7' });
    expect(writes() - before).toBeLessThanOrEqual(nodes);

    // identity: the index sets in one round trip, then the candidates' profiles (cached here) to verify them
    before = writes();
    const found = await dm.identity.lookupMany(ids.map((id) => ({ field: 'email', value: `${id.toUpperCase()}@example.com` })));
    expect(found).toEqual(ids.map((id) => [id]));
    expect(writes() - before).toBeLessThanOrEqual(nodes);
  });

  it('counts hits, misses and remembered misses in rebound_cache_requests_total', async () => {
    const keys = new Keys(newPrefix(), 16);
    const redis = await port(target);
    await new ProfileStore(redis, keys, campaign.indexedFields).upsert([parseProfile({ id: 'known' })]);
    const dm = await datamart(redis, keys, false);
    const start = await requests('profiles');
    await dm.profiles.getMany(['known', 'unknown']);
    expect(delta(await requests('profiles'), start)).toEqual({ hit: 0, miss: 2, negative: 0 });
    await dm.profiles.getMany(['known', 'unknown']);
    expect(delta(await requests('profiles'), start)).toEqual({ hit: 1, miss: 2, negative: 1 });
  });

  it('sees a profile, index or row written by another process within a second', async () => {
    const keys = new Keys(newPrefix(), 16);
    const reader = await datamart(await port(target), keys);
    const writerRedis = await port(target);
    const writer = new ProfileStore(writerRedis, keys, campaign.indexedFields);
    await writer.upsert([parseProfile({ id: 'p', email: 'first@example.com', firstName: 'Ann' })]);
    await upsertRows(writerRedis, keys, 'catalog', [{ key: 'S1', row: { sku: 'S1', price: 10 } }]);

    expect((await reader.profiles.getMany(['p'])).get('p')?.firstName).toBe('Ann');
    expect(await reader.identity.lookup('email', 'second@example.com')).toEqual([]);
    expect(await reader.identity.lookup('email', sha256Hex('second@example.com'), true)).toEqual([]);
    expect((await reader.resources.getMany('catalog', ['S1'])).get('S1')).toEqual({ sku: 'S1', price: 10 });

    await writer.upsert([parseProfile({ id: 'p', email: 'second@example.com', firstName: 'Anna' })]);
    await upsertRows(writerRedis, keys, 'catalog', [{ key: 'S1', row: { sku: 'S1', price: 12 } }]);
    await waitFor('the new first name', async () => (await reader.profiles.getMany(['p'])).get('p')?.firstName === 'Anna', 1000, 10);
    await waitFor('the new email', async () => (await reader.identity.lookup('email', 'second@example.com')).length === 1, 1000, 10);
    await waitFor('the new email hashed', async () => (await reader.identity.lookup('email', sha256Hex('second@example.com'), true)).length === 1, 1000, 10);
    await waitFor('the old email gone', async () => (await reader.identity.lookup('email', 'first@example.com')).length === 0, 1000, 10);
    await waitFor('the new price', async () => (await reader.resources.getMany('catalog', ['S1'])).get('S1')?.price === 12, 1000, 10);

    await writer.delete(['p']);
    await waitFor('the profile gone', async () => !(await reader.profiles.getMany(['p'])).has('p'), 1000, 10);
    await waitFor('its email gone', async () => (await reader.identity.lookup('email', 'second@example.com')).length === 0, 1000, 10);
  });

  it('drops every cached entry when its invalidation listener reconnects', async () => {
    const keys = new Keys(newPrefix(), 16);
    const name = `dm-${randomBytes(4).toString('hex')}`;
    const writer = await port(target);
    await new ProfileStore(writer, keys, campaign.indexedFields).upsert([parseProfile({ id: 'p', firstName: 'Before' })]);
    const reader = await datamart(await port(target, name), keys);
    expect((await reader.profiles.getMany(['p'])).get('p')?.firstName).toBe('Before');
    // A write whose message this process misses (written without announcing it).
    await writer.set(keys.profile('p'), JSON.stringify({ id: 'p', firstName: 'After' }));
    expect((await reader.profiles.getMany(['p'])).get('p')?.firstName).toBe('Before');
    expect(await killSubscribers(target, name)).toBe(1);
    await waitFor('the missed write', async () => (await reader.profiles.getMany(['p'])).get('p')?.firstName === 'After', 10_000, 20);
  });

  it('tells which addresses and numbers are on the suppression list', async () => {
    const keys = new Keys(newPrefix(), 16);
    const redis = await port(target);
    const dm = await datamart(redis, keys, false);
    expect(await addSuppressions(redis, keys, ['Blocked@Example.com', '+33 6 11 22 33 44'])).toBe(2);
    const asked = ['blocked@example.com ', 'ok@example.com', '+33611223344', 'not a contact'];
    expect(await dm.suppressed(asked)).toEqual(new Set(['blocked@example.com ', '+33611223344']));
    expect(await removeSuppressions(redis, keys, ['BLOCKED@example.com'])).toBe(1);
    expect(await dm.suppressed(asked)).toEqual(new Set(['+33611223344']));
  });

  it('resolves lookups by id, and finds nothing for fields that are not indexed', async () => {
    const keys = new Keys(newPrefix(), 16);
    const redis = await port(target);
    await new ProfileStore(redis, keys, campaign.indexedFields).upsert([parseProfile({ id: 'u1', email: 'u1@example.com', shopperId: 'S-1' })]);
    const dm = await datamart(redis, keys, false);
    expect(await dm.identity.lookupMany([{ field: 'id', value: 'u1' }, { field: 'id', value: 'u2' }, { field: 'shopperId', value: 'S-1' }, { field: 'id', value: 'u1', hashed: true }])).toEqual([['u1'], [], [], []]);
  });
});

// The profile store on a standalone Redis and on a 3-master Redis Cluster: profiles as stored,
// the email/phone indexes (plain and sha256) kept consistent through updates, deletes, crashes
// between writes and concurrent writers, and one invalidation message per write batch.
import { createServer, connect as connectTcp, type AddressInfo, type Server } from 'node:net';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { connectRedis, type RedisPort, type Subscription } from '../../src/core/redis/client.js';
import { Keys } from '../../src/core/redis/keys.js';
import { parseInvalidation, type Invalidation } from '../../src/model/cache-invalidation.js';
import { parseProfile } from '../../src/model/profile.js';
import { ProfileStore, indexKey } from '../../src/model/profile-store.js';
import { sha256Hex } from '../../src/model/profile-values.js';
import { waitFor } from '../support/processes.js';
import { connect, newPrefix, targets } from '../stages/pipeline-helpers.js';

const connections: RedisPort[] = [];
afterAll(async () => Promise.all(connections.splice(0).map((r) => r.close())));

describe.each(targets(inject('redisUrl'), inject('redisClusterSeeds')))('profile store on $name Redis', (target) => {
  async function setUp() {
    const redis = await connect(target);
    connections.push(redis);
    const keys = new Keys(newPrefix(), 16);
    return { redis, keys, store: new ProfileStore(redis, keys, ['email', 'phone']) };
  }

  it('stores, reads and deletes profiles as validated', async () => {
    const { store } = await setUp();
    const jane = parseProfile({ id: 'jane', email: 'Jane@Example.com', loyalty: { tier: 'gold' } });
    const joe = parseProfile({ id: 'joe', phone: '+33 6 00 00 00 01' });
    await store.upsert([jane, joe]);
    expect(await store.get('jane')).toEqual({ id: 'jane', email: 'jane@example.com', loyalty: { tier: 'gold' } });
    expect(await store.getMany(['jane', 'joe', 'nobody'])).toEqual(new Map([['jane', jane], ['joe', joe]]));
    expect(await store.delete(['jane', 'nobody'])).toBe(1);
    expect(await store.get('jane')).toBeUndefined();
  });

  it('finds profiles by normalised value and by sha256 of it, and keeps the indexes right through an email change and a delete', async () => {
    const { redis, keys, store } = await setUp();
    await store.upsert([parseProfile({ id: 'p1', email: 'old@example.com', phone: '+1 555 0100' })]);
    expect(await store.lookupProfiles('email', ' OLD@example.com')).toEqual(['p1']);
    expect(await store.lookupProfiles('email', sha256Hex('old@example.com'), { hashed: true })).toEqual(['p1']);
    expect(await store.lookupProfiles('email', sha256Hex('old@example.com').toUpperCase(), { hashed: true })).toEqual(['p1']);
    expect(await store.lookupProfiles('phone', '+15550100')).toEqual(['p1']);

    await store.upsert([parseProfile({ id: 'p1', email: 'new@example.com', phone: '+1 555 0100' })]);
    expect(await store.lookupProfiles('email', 'old@example.com')).toEqual([]);
    expect(await store.lookupProfiles('email', sha256Hex('old@example.com'), { hashed: true })).toEqual([]);
    expect(await redis.smembers(indexKey(keys, 'email', 'old@example.com', false))).toEqual([]);
    expect(await redis.smembers(indexKey(keys, 'email', sha256Hex('old@example.com'), true))).toEqual([]);
    expect(await store.lookupProfiles('email', 'new@example.com')).toEqual(['p1']);
    expect(await store.lookupProfiles('email', sha256Hex('new@example.com'), { hashed: true })).toEqual(['p1']);

    await store.delete(['p1']);
    expect(await store.lookupProfiles('email', 'new@example.com')).toEqual([]);
    for (const key of [indexKey(keys, 'email', 'new@example.com', false), indexKey(keys, 'phone', '+15550100', false), indexKey(keys, 'phone', sha256Hex('+15550100'), true)]) {
      expect(await redis.smembers(key)).toEqual([]);
    }
  });

  it('returns every profile sharing a value (ambiguity is the caller’s to judge), and nothing for unindexed fields', async () => {
    const { store } = await setUp();
    await store.upsert([parseProfile({ id: 'a', email: 'shared@example.com' }), parseProfile({ id: 'b', email: 'shared@example.com', firstName: 'B' })]);
    expect(await store.lookupProfiles('email', 'shared@example.com')).toEqual(['a', 'b']);
    expect(await store.lookupProfiles('firstName', 'B')).toEqual([]);
    expect(await store.lookupProfiles('email', 'not an address')).toEqual([]);
    expect(await store.lookupProfiles('email', 'abc', { hashed: true })).toEqual([]);
    expect(await store.lookupProfiles('id', 'a')).toEqual(['a']);
    expect(await store.lookupProfiles('id', 'zz')).toEqual([]);
  });

  it('does not return a profile through a stale index entry left by a crash between writes', async () => {
    const { redis, keys, store } = await setUp();
    await store.upsert([parseProfile({ id: 'p1', email: 'current@example.com' })]);
    // A writer died after step 1 (SADD of a new value) or before step 3 (SREM of an old one).
    await redis.sadd(indexKey(keys, 'email', 'stale@example.com', false), ['p1', 'gone']);
    await redis.sadd(indexKey(keys, 'email', sha256Hex('stale@example.com'), true), ['p1']);
    expect(await store.lookupProfiles('email', 'stale@example.com')).toEqual([]);
    expect(await store.lookupProfiles('email', sha256Hex('stale@example.com'), { hashed: true })).toEqual([]);
    expect(await store.lookupProfiles('email', 'current@example.com')).toEqual(['p1']);
  });

  it('publishes one invalidation per write batch naming the profiles and the index values that changed', async () => {
    const { redis, keys, store } = await setUp();
    const received: Invalidation[] = [];
    const subscription: Subscription = await redis.subscribe(keys.invalidations(), (m) => received.push(parseInvalidation(m) as Invalidation), () => {});
    try {
      await store.upsert([parseProfile({ id: 'x', email: 'x@example.com' }), parseProfile({ id: 'y' }), parseProfile({ id: 'x', email: 'x2@example.com' })]);
      await waitFor('the first message', () => received.length === 1, 10_000, 20);
      expect(received[0]!.profiles).toEqual(['x', 'y']);
      expect(received[0]!.identities).toEqual([['email', 'x2@example.com']]);
      await store.upsert([parseProfile({ id: 'x', email: 'x3@example.com', firstName: 'X' })]);
      await store.delete(['y']);
      await waitFor('three messages', () => received.length === 3, 10_000, 20);
      expect(received[1]!.identities?.sort()).toEqual([['email', 'x2@example.com'], ['email', 'x3@example.com']]);
      expect(received[2]).toEqual({ profiles: ['y'], identities: [] });
    } finally {
      await subscription.close();
    }
  });
});

/**
 * A TCP proxy in front of Redis that holds a client's traffic from the first command naming
 * `holdAt` on, until released: it stops a writer between two of its steps, as a slow or paused
 * process would be.
 */
async function holdingProxy(redisUrl: string, holdAt: string) {
  const { hostname, port } = new URL(redisUrl);
  let held: Buffer[] | undefined;
  let forward: ((chunk: Buffer) => void) | undefined;
  let reached = false;
  const sockets: Array<{ destroy(): void }> = [];
  const server: Server = createServer((client) => {
    const upstream = connectTcp(Number(port), hostname);
    sockets.push(client, upstream);
    forward = (chunk) => upstream.write(chunk);
    client.on('data', (chunk: Buffer) => {
      if (held === undefined && !reached && chunk.toString('latin1').toLowerCase().includes(holdAt)) {
        reached = true;
        held = [];
      }
      if (held !== undefined) held.push(chunk);
      else upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => client.write(chunk));
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `redis://127.0.0.1:${(server.address() as AddressInfo).port}`,
    reached: () => reached,
    release() {
      for (const chunk of held ?? []) forward?.(chunk);
      held = undefined;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const socket of sockets) socket.destroy();
      }),
  };
}

describe('profile store with two writers on one profile', () => {
  it('keeps the final email indexed when a slower writer removes it after another writer set it', async () => {
    const url = inject('redisUrl');
    const keys = new Keys(newPrefix(), 16);
    const proxy = await holdingProxy(url, 'srem');
    const fast = await connectRedis({ url }, { connectTimeoutMs: 5000, name: 'test-fast' });
    const slow = await connectRedis({ url: proxy.url }, { connectTimeoutMs: 5000, name: 'test-slow' });
    connections.push(fast);
    const fastStore = new ProfileStore(fast, keys, ['email']);
    const slowStore = new ProfileStore(slow, keys, ['email']);
    try {
      await fastStore.upsert([parseProfile({ id: 'p', email: 'a@example.com' })]);
      // The slow writer changes a → b and stops before removing a's entry.
      const slowWrite = slowStore.upsert([parseProfile({ id: 'p', email: 'b@example.com' })]);
      await waitFor('the slow writer at its SREM', () => proxy.reached(), 10_000, 5);
      expect((await fastStore.get('p'))?.email).toBe('b@example.com');
      // Meanwhile the profile is set back to a, completely.
      await fastStore.upsert([parseProfile({ id: 'p', email: 'a@example.com' })]);
      proxy.release();
      await slowWrite;
      expect((await fastStore.get('p'))?.email).toBe('a@example.com');
      expect(await fastStore.lookupProfiles('email', 'a@example.com')).toEqual(['p']);
      expect(await fastStore.lookupProfiles('email', sha256Hex('a@example.com'), { hashed: true })).toEqual(['p']);
      expect(await fastStore.lookupProfiles('email', 'b@example.com')).toEqual([]);
    } finally {
      proxy.release();
      await slow.close();
      await proxy.close();
    }
  });
});

// How many round trips to Redis a batch of the campaign stage waits for, on both Redis kinds: the
// reads that do not depend on each other go out together (the visitors with the profiles, the
// suppression check with the catalog rows), then the commit; on a single node the profiles'
// message indexes are written by the commit, on a cluster (other slots) right after it. Counted
// on a client of our own: a round is the socket writes made before any reply is read. Profiles
// are looked up before the visitor is in, so what the visitor declared must still decide.
import { afterEach, describe, expect, inject, it } from 'vitest';
import { configSchema } from '../../src/core/config-schema.js';
import { systemClock } from '../../src/core/clock.js';
import { createLogger } from '../../src/core/log.js';
import type { RedisPort } from '../../src/core/redis/client.js';
import { Keys } from '../../src/core/redis/keys.js';
import { loadCampaignDefinitions } from '../../src/model/campaign-definitions.js';
import { Datamart } from '../../src/model/datamart-cache.js';
import { parseProfile } from '../../src/model/profile.js';
import { ProfileStore } from '../../src/model/profile-store.js';
import { encodeFiredRecord, type FiredRecord } from '../../src/model/trigger-message.js';
import { campaignGroup, campaignStage, messageIdOf, type CampaignDeps } from '../../src/stages/campaign/campaign-stage.js';
import { connect, newPrefix, targets, type Target } from '../stages/pipeline-helpers.js';
import { observedPort } from '../support/observed-port.js';
import { defineShop, firedRecord } from './campaign-harness.js';

const settings = configSchema.parse({}).campaign;
const cleanup: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
});

/** A port whose socket writes are counted in rounds: a write after a reply was read starts a new round. */
async function countingPort(target: Target): Promise<{ redis: RedisPort; rounds: () => number; nodes: number }> {
  let rounds = 0;
  let replied = true;
  const { redis, nodes } = await observedPort(target, {
    write: () => {
      if (replied) rounds++;
      replied = false;
    },
    reply: () => (replied = true),
  });
  cleanup.push(() => redis.close());
  return { redis, rounds: () => rounds, nodes };
}

interface Setup {
  writer: RedisPort;
  keys: Keys;
  partition: number;
  rounds: () => number;
  /** Appends trigger messages (visitors of the partition) and runs them as one batch of the stage. */
  batch(fields: ReadonlyArray<Partial<FiredRecord>>): Promise<{ used: number; records: FiredRecord[] }>;
}

async function setUp(target: Target): Promise<Setup> {
  const keys = new Keys(newPrefix(), 4);
  const writer = await connect(target);
  cleanup.push(() => writer.close());
  await defineShop({ redis: writer, keys });
  const profiles = Array.from({ length: 8 }, (_, i) => ({ id: `u-${i}`, email: `u${i}@example.com`, firstName: `U${i}` }));
  await new ProfileStore(writer, keys, settings.indexedFields).upsert(profiles.map((p) => parseProfile(p)));
  const partition = 2;
  const stream = keys.stream(partition, 'fired');
  await writer.xgroupCreate(stream, campaignGroup, '0');

  const { redis, rounds } = await countingPort(target);
  const datamart = new Datamart(redis, keys, settings, createLogger('silent'));
  cleanup.push(() => datamart.stop());
  const definitions = await loadCampaignDefinitions(redis, keys);
  const deps: CampaignDeps = {
    redis,
    keys,
    clock: systemClock,
    definitions: () => definitions,
    retentionMs: 3_600_000,
    identity: { profiles: (ids) => datamart.profiles.getMany(ids), lookup: (field, value, hashed) => datamart.identity.lookup(field, value, hashed) },
    resources: { getMany: (name, rowKeys) => datamart.resources.getMany(name, rowKeys) },
    suppressed: (addresses) => datamart.suppressed(addresses),
    defaultTimezone: 'UTC',
    links: { publicUrl: 'http://localhost:8080', secret: 'test-secret' },
    identityWaitMs: () => 1000,
  };
  const stage = campaignStage(deps);
  let visitors = 0;
  const visitorOf = (): string => {
    for (;;) {
      const id = `v-rt-${visitors++}`;
      if (keys.partitionOf(id) === partition) return id;
    }
  };
  return {
    writer,
    keys,
    partition,
    rounds,
    async batch(fields) {
      const records = fields.map((f) => firedRecord({ visitorId: visitorOf(), ...f }));
      for (const record of records) await writer.xadd(stream, encodeFiredRecord(record));
      const entries = await writer.xreadgroup(stream, campaignGroup, 'c1', '>', 100);
      const before = rounds();
      const results = await stage.process(entries.map((e) => ({ id: e.id, data: e.data as Buffer, deliveries: 1, value: undefined as never })), partition);
      expect(results.every((r) => r.ok)).toBe(true);
      return { used: rounds() - before, records };
    },
  };
}

const cart = (sku: string) => [{ sku, quantity: 1, price: 10 }];

describe.each(targets(inject('redisUrl'), inject('redisClusterSeeds')))('campaign stage round trips on $name Redis', (target) => {
  it('a batch with cache misses waits for 3 round trips on a single node, 4 on a cluster', async () => {
    const { writer, keys, partition, batch } = await setUp(target);
    // The first batch also marks the event as having sent (once per process); the second has
    // profiles and rows not cached yet.
    await batch(['u-0', 'u-1'].map((userId) => ({ aliases: { userId }, cart: cart('SKU-1') })));
    const { used, records } = await batch(['u-2', 'u-3', 'u-4', 'u-5', 'u-6', 'u-7'].map((userId) => ({ aliases: { userId }, cart: cart('SKU-2') })));
    expect(used).toBe(target.name === 'standalone' ? 3 : 4);
    // What the batch wrote: every message in the outbox and in its profile's message index.
    for (const [i, record] of records.entries()) {
      const id = messageIdOf('EVTcartEmail', record);
      expect(await writer.hgetall(keys.message(partition, id))).toMatchObject({ status: 'processing', profileId: `u-${i + 2}`, to: `u${i + 2}@example.com` });
      expect((await writer.zrevrangeWithScores(keys.profileMessages(`u-${i + 2}`), 0, -1)).map((m) => m.member)).toEqual([`${partition}|${id}`]);
    }
  });

  it('what the visitor declared since the trigger, and its click link, still decide the profile', async () => {
    const { writer, keys, partition, batch } = await setUp(target);
    const visitors = ['v-rt-declared', 'v-rt-linked', 'v-rt-same'].map((prefix) => {
      for (let i = 0; ; i++) if (keys.partitionOf(`${prefix}-${i}`) === partition) return `${prefix}-${i}`;
    });
    const [declared, linked, same] = visitors as [string, string, string];
    // An identify after the trigger names another user; a click linked a visitor without aliases.
    await writer.hset(keys.visitor(partition, declared), 'ids', JSON.stringify({ userId: 'u-4' }));
    await writer.hset(keys.visitor(partition, linked), 'link', 'u-5');
    // The third declared an email besides the message's userId, which still decides first.
    await writer.hset(keys.visitor(partition, same), 'ids', JSON.stringify({ userId: 'u-6', email: 'other@example.com' }));
    const { records } = await batch([
      { visitorId: declared, aliases: { userId: 'u-3' }, cart: cart('SKU-1') },
      { visitorId: linked, aliases: {}, cart: cart('SKU-1') },
      { visitorId: same, aliases: { userId: 'u-6' }, cart: cart('SKU-1') },
    ]);
    const profileOf = async (record: FiredRecord) => (await writer.hgetall(keys.message(partition, messageIdOf('EVTcartEmail', record)))).profileId;
    expect(await Promise.all(records.map(profileOf))).toEqual(['u-4', 'u-5', 'u-6']);
  });
});

// The campaign commit script on its own (lua/campaign-commit.lua through commitOutcomes), on both
// Redis kinds: a batch's records, counters and event index are what job-by-job writes would
// leave (counters summed, the index trimmed to the retention), each input written once.
import { Redis, Cluster } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { RedisPort } from '../../src/core/redis/client.js';
import { Keys } from '../../src/core/redis/keys.js';
import { commitOutcomes, type CommitSpec, type Unit } from '../../src/stages/campaign/commit.js';
import { connect, newPrefix, targets } from '../stages/pipeline-helpers.js';

const retentionMs = 3_600_000;

describe.each(targets(inject('redisUrl'), inject('redisClusterSeeds')))('campaign commit on $name Redis', (target) => {
  let redis: RedisPort;
  let raw: Redis | Cluster;
  beforeAll(async () => {
    redis = await connect(target);
    raw = target.redis.cluster ? new Cluster(target.redis.cluster.map((seed) => ({ host: seed.split(':')[0], port: Number(seed.split(':')[1]) }))) : new Redis(target.redis.url!);
  });
  afterAll(async () => {
    await redis.close();
    raw.disconnect();
  });

  it('writes a batch once, with summed counters and the event index trimmed to the retention', async () => {
    const keys = new Keys(newPrefix(), 4);
    const partition = 1;
    const stream = keys.stream(partition, 'fired');
    await raw.xgroup('CREATE', stream, 'campaign', '$', 'MKSTREAM');
    const ids = [];
    for (let i = 0; i < 3; i++) ids.push((await raw.xadd(stream, '*', 'd', `entry-${i}`)) as string);
    await raw.xreadgroup('GROUP', 'campaign', 'c1', 'COUNT', 10, 'STREAMS', stream, '>');
    const now = Date.now();
    const index = keys.eventMessages(partition, 'EVTx');
    await raw.zadd(index, now - 2 * retentionMs, 'too-old', now - 60_000, 'recent');
    const units: Unit[] = ids.map((id, i) => ({
      gate: id,
      jobs: [
        {
          messageId: `m-${i}`,
          eventId: 'EVTx',
          triggerId: 'tid',
          receivedAt: now,
          fired: Buffer.from(`entry-${i}`),
          waits: 0,
          outcome: { kind: 'final', status: 'ignored', reason: i === 2 ? 'fatigue' : 'suppressed', fields: { id: `m-${i}`, eventId: 'EVTx', firedAt: now - 1000, receivedAt: now } },
        },
      ],
    }));
    const spec: CommitSpec = { redis, keys, partition, retentionMs, group: 'campaign' };
    expect(await commitOutcomes(spec, { mode: 'stream' }, units)).toEqual([true, true, true]);
    const stats = await raw.hgetall(keys.triggerStats(partition, 'tid'));
    expect(stats).toEqual({ 'EVTx|received': '3', 'EVTx|ignored': '3', 'EVTx|ignored|suppressed': '2', 'EVTx|ignored|fatigue': '1' });
    expect((await raw.zrange(index, 0, -1)).sort()).toEqual(['m-0', 'm-1', 'm-2', 'recent']);
    for (const key of [index, keys.triggerStats(partition, 'tid'), keys.message(partition, 'm-0')]) {
      const ttl = await raw.pttl(key);
      expect(ttl).toBeGreaterThan(0);
      expect(ttl).toBeLessThanOrEqual(retentionMs);
    }
    expect(await raw.hgetall(keys.message(partition, 'm-2'))).toMatchObject({ status: 'ignored', reason: 'fatigue', id: 'm-2', firedAt: String(now - 1000) });
    // The same entries again (acknowledged already): nothing is written twice.
    expect(await commitOutcomes(spec, { mode: 'stream' }, units)).toEqual([false, false, false]);
    expect((await raw.hgetall(keys.triggerStats(partition, 'tid')))['EVTx|received']).toBe('3');
  });
});

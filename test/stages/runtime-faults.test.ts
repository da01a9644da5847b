// Stage runtime under Redis faults and trimming, on a private standalone redis-server with AOF.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encode } from '../../src/core/codec.js';
import type { RedisPort } from '../../src/core/redis/client.js';
import { Keys } from '../../src/core/redis/keys.js';
import { startRedis, type RedisProcess } from '../support/redis-server.js';
import { startChild, waitFor } from '../support/processes.js';
import { connect, expectExactlyOnce, newPrefix, outputCounts, streamLength, writeEntries, type Target } from './pipeline-helpers.js';

let server: RedisProcess;
let target: Target;
beforeAll(async () => {
  server = await startRedis({ appendonly: true });
  target = { name: 'standalone', env: { TEST_REDIS_URL: server.url }, redis: { url: server.url } };
});
afterAll(async () => server.stop());

async function reconnect(): Promise<RedisPort> {
  return connect(target);
}

describe('stage runtime with Redis restarted mid-run', () => {
  it('reconnects with backoff, loses nothing acknowledged, duplicates nothing, and no worker exits', async () => {
    const prefix = newPrefix();
    const keys = new Keys(prefix, 16);
    let redis = await reconnect();
    await writeEntries(redis, keys, 'in', 0, 60_000);
    const workers = await Promise.all([0, 1].map(() => startChild('test/fixtures/chain-worker.ts', { ...target.env, TEST_PREFIX: prefix, TEST_SLOW_MS: '2' })));
    try {
      await waitFor('some outputs', async () => (await streamLength(redis, keys, 'out')) > 2_000, 60_000, 20);
      await redis.close();
      await server.stop();
      await new Promise((r) => setTimeout(r, 2000)); // down long enough for the workers to notice
      await server.restart();
      redis = await reconnect();
      expect((await streamLength(redis, keys, 'out')) < 60_000).toBe(true);
      await waitFor('60,000 outputs', async () => (await streamLength(redis, keys, 'out')) >= 60_000, 120_000, 250);
      expect(expectExactlyOnce(await outputCounts(redis, keys, 'out'), 60_000)).toEqual([]);
      for (const worker of workers) expect(worker.process.exitCode).toBeNull();
      expect(workers.some((worker) => /backing off|retrying/.test(worker.output()))).toBe(true);
    } finally {
      await Promise.all(workers.map((worker) => worker.kill9()));
      await redis.close();
    }
  }, 180_000);
});

describe('trimming', () => {
  it('removes only what every group acknowledged, never a pending or undelivered entry', async () => {
    const keys = new Keys(newPrefix(), 16);
    const redis = await reconnect();
    try {
      const key = keys.stream(3, 'log');
      await redis.xgroupCreate(key, 'fast', '0');
      await redis.xgroupCreate(key, 'slow', '0');
      const ids: string[] = [];
      for (let i = 0; i < 1000; i++) ids.push(await redis.xadd(key, encode({ i })));
      // fast: reads all and acknowledges all but entry 700 (pending). slow: reads 400, acknowledges them.
      const fast = await redis.xreadgroup(key, 'fast', 'a', '>', 1000);
      const slow = await redis.xreadgroup(key, 'slow', 'b', '>', 400);
      const ackAll = (group: string, entries: typeof fast, keep?: string) =>
        redis.script('reboundCommit', [key, keys.stageErrors(3, 'log', group)], [group, entries.filter((e) => e.id !== keep).length, ...entries.filter((e) => e.id !== keep).flatMap((e) => [e.id, '0', 0]), 0]);
      await ackAll('fast', fast, ids[700]);
      await ackAll('slow', slow);
      await redis.script('reboundTrim', [key], []);
      const left = (await redis.xrange(key)).map((e) => e.id);
      expect(left).toContain(ids[400]); // slow has not read it yet
      expect(left.slice(-600)).toEqual(ids.slice(400));
      expect(left.length).toBeLessThan(1000); // approximate trimming removed whole nodes below 400
      // slow catches up and acknowledges everything: the bound becomes fast's pending entry 700.
      await ackAll('slow', await redis.xreadgroup(key, 'slow', 'b', '>', 1000));
      await redis.script('reboundTrim', [key], []);
      const after = (await redis.xrange(key)).map((e) => e.id);
      expect(after).toContain(ids[700]);
      expect(after.slice(-300)).toEqual(ids.slice(700));
      expect(after.length).toBeLessThan(left.length);
      // A stream without groups is never trimmed.
      const lonely = keys.stream(4, 'log');
      for (let i = 0; i < 300; i++) await redis.xadd(lonely, encode({ i }));
      await redis.script('reboundTrim', [lonely], []);
      expect(await redis.xlen(lonely)).toBe(300);
    } finally {
      await redis.close();
    }
  });
});

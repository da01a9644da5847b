// The stage runtime's conformance suite, on a standalone Redis and on a 3-master Redis Cluster:
// real worker processes running two chained stages; each case asserts what an operator would
// check afterwards: every entry output exactly once, dead letters with their error, exit codes.
import { afterEach, describe, expect, inject, it } from 'vitest';
import type { RedisPort } from '../../src/core/redis/client.js';
import { Keys } from '../../src/core/redis/keys.js';
import { startChild, waitFor, type Child } from '../support/processes.js';
import { connect, expectExactlyOnce, newPrefix, outputCounts, streamLength, targets, writeEntries } from './pipeline-helpers.js';

const worker = 'test/fixtures/chain-worker.ts';
const children: Child[] = [];
const connections: RedisPort[] = [];

afterEach(async () => {
  await Promise.all(children.splice(0).map((child) => child.kill9()));
  await Promise.all(connections.splice(0).map((redis) => redis.close()));
});

async function setUp(target: ReturnType<typeof targets>[number], workers: number, env: Record<string, string> = {}) {
  const prefix = newPrefix();
  const keys = new Keys(prefix, 16);
  const redis = await connect(target);
  connections.push(redis);
  const started = await Promise.all(Array.from({ length: workers }, () => startChild(worker, { ...target.env, TEST_PREFIX: prefix, ...env })));
  children.push(...started);
  return { keys, redis, workers: started };
}

describe.each(targets(inject('redisUrl'), inject('redisClusterSeeds')))('stage runtime on $name Redis', (target) => {
  it('moves 200,000 entries through two stages with two workers, each exactly once', async () => {
    const { keys, redis } = await setUp(target, 2);
    await writeEntries(redis, keys, 'in', 0, 200_000);
    await waitFor('200,000 outputs', async () => (await streamLength(redis, keys, 'out')) >= 200_000, 120_000, 250);
    expect(expectExactlyOnce(await outputCounts(redis, keys, 'out'), 200_000)).toEqual([]);
    expect(await streamLength(redis, keys, 'out')).toBe(200_000);
  }, 180_000);

  it('finishes the work of a worker killed with SIGKILL mid-run, still exactly once', async () => {
    const { keys, redis, workers } = await setUp(target, 2, { TEST_CLAIM_IDLE: '1s', TEST_SLOW_MS: '5' });
    await writeEntries(redis, keys, 'in', 0, 50_000);
    await waitFor('some outputs', async () => (await streamLength(redis, keys, 'out')) > 5_000, 60_000, 50);
    await workers[0]!.kill9();
    await waitFor('50,000 outputs', async () => (await streamLength(redis, keys, 'out')) >= 50_000, 120_000, 250);
    await new Promise((r) => setTimeout(r, 1500)); // a late duplicate would show up here
    expect(expectExactlyOnce(await outputCounts(redis, keys, 'out'), 50_000)).toEqual([]);
    expect(workers[1]!.process.exitCode).toBeNull();
  }, 180_000);

  it('moves a poison entry to the dead-letter stream after maxDeliveries, with its error; the rest flows', async () => {
    const { keys, redis } = await setUp(target, 2, { TEST_CLAIM_IDLE: '300ms', TEST_RECOVER_EVERY: '100ms', TEST_MAX_DELIVERIES: '3' });
    const poison = (n: number): boolean => n === 777;
    await writeEntries(redis, keys, 'in', 0, 2_000, poison);
    await waitFor('1,999 outputs', async () => (await streamLength(redis, keys, 'out')) >= 1_999, 60_000);
    const dlqKey = keys.deadLetters(keys.partitionOf('777'), 'mid');
    await waitFor('the dead letter', async () => (await redis.xlen(dlqKey)) === 1, 30_000);
    expect(expectExactlyOnce(await outputCounts(redis, keys, 'out'), 2_000, poison)).toEqual([]);
    const raw = await redis.xrangeRecords(dlqKey);
    expect(raw).toHaveLength(1);
    expect(raw[0]!.fields).toMatchObject({ group: 'hop2', deliveries: '3' });
    expect(raw[0]!.fields.error).toContain('poison entry');
    const pending = await redis.xpendingIdle(keys.stream(keys.partitionOf('777'), 'mid'), 'hop2', 0, 10);
    expect(pending).toEqual([]);
  }, 120_000);

  it('retries a batch whose shared state kept changing under it, whole: nothing dead-lettered, each entry once', async () => {
    const { keys, redis } = await setUp(target, 1, { TEST_CONFLICTS: '4', TEST_MAX_DELIVERIES: '2', TEST_CLAIM_IDLE: '300ms', TEST_RECOVER_EVERY: '100ms' });
    await writeEntries(redis, keys, 'in', 0, 500);
    await waitFor('500 outputs', async () => (await streamLength(redis, keys, 'out')) >= 500, 60_000);
    expect(expectExactlyOnce(await outputCounts(redis, keys, 'out'), 500)).toEqual([]);
    for (const p of keys.allPartitions()) expect(await redis.xlen(keys.deadLetters(p, 'mid'))).toBe(0);
  }, 90_000);

  it('drains on SIGTERM: in-flight batches are committed and the worker exits 0', async () => {
    const { keys, redis, workers } = await setUp(target, 1, { TEST_SLOW_MS: '300' });
    await writeEntries(redis, keys, 'in', 0, 5_000);
    await waitFor('a first output', async () => (await streamLength(redis, keys, 'out')) > 0, 30_000, 20);
    const code = await workers[0]!.terminate();
    expect(code).toBe(0);
    for (const p of keys.allPartitions()) {
      expect(await redis.xpendingIdle(keys.stream(p, 'mid'), 'hop2', 0, 10)).toEqual([]);
      expect(await redis.xpendingIdle(keys.stream(p, 'in'), 'hop1', 0, 10)).toEqual([]);
    }
    const done = await streamLength(redis, keys, 'out');
    expect(done).toBeLessThan(5_000);
    children.push(await startChild(worker, { ...target.env, TEST_PREFIX: keys.prefix }));
    await waitFor('5,000 outputs', async () => (await streamLength(redis, keys, 'out')) >= 5_000, 60_000);
    expect(expectExactlyOnce(await outputCounts(redis, keys, 'out'), 5_000)).toEqual([]);
  }, 120_000);
});

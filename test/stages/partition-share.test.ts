// stages.partitions: shared. The live processes of a stage split its partitions: each reads only
// its share while the others live, and a process that leaves or stops renewing (killed) hands
// its partitions over to the survivors.
import { describe, expect, inject, it } from 'vitest';
import { createLogger } from '../../src/core/log.js';
import type { RedisPort } from '../../src/core/redis/client.js';
import { Keys } from '../../src/core/redis/keys.js';
import { assignPartitions, MEMBERSHIP_TTL_MS } from '../../src/stages/runtime/partition-share.js';
import { succeed, type StageDefinition } from '../../src/stages/runtime/stage.js';
import { StageRunner } from '../../src/stages/runtime/stage-runner.js';
import { waitFor } from '../support/processes.js';
import { connect, metricValue, newPrefix, streamLength, targets, writeEntries } from './pipeline-helpers.js';

const PARTITIONS = 8;

function runner(redis: RedisPort, keys: Keys, consumer: string, seen: Set<number>): StageRunner<{ n: number }> {
  const stage: StageDefinition<{ n: number }> = {
    name: 'shared',
    input: 'in',
    process: async (items, partition) => {
      seen.add(partition);
      return items.map((item) => succeed([{ stream: 'out', value: item.value }]));
    },
  };
  return new StageRunner(stage, {
    redis,
    keys,
    consumer,
    partitions: keys.allPartitions(),
    settings: { batchSize: 100, batchBytes: 262_144, maxInFlight: 4, claimIdleMs: 60_000, maxDeliveries: 5, idlePollMs: 10, lingerMs: 0, sharePartitions: true, recoverEveryMs: 1000, trimEveryMs: 10_000 },
    logger: createLogger('silent'),
  });
}

const sorted = (partitions: Iterable<number>): number[] => [...partitions].sort((a, b) => a - b);

describe('shared partitions', () => {
  it('assigns every partition to exactly one live member, evenly', () => {
    const all = Array.from({ length: 16 }, (_, p) => p);
    const members = ['a', 'b', 'c'];
    const shares = members.map((m) => assignPartitions(all, members, m));
    expect(sorted(shares.flat())).toEqual(all);
    expect(shares.map((s) => s.length)).toEqual([6, 5, 5]);
    expect(assignPartitions(all, ['a'], 'a')).toEqual(all);
  });

  it('splits the partitions between two processes, and the one left takes them all', async () => {
    const [target] = targets(inject('redisUrl'), inject('redisClusterSeeds'));
    const redis = await connect(target!);
    const keys = new Keys(newPrefix(), PARTITIONS);
    const seenA = new Set<number>();
    const seenB = new Set<number>();
    const a = runner(redis, keys, 'a', seenA);
    const b = runner(redis, keys, 'b', seenB);
    await a.start();
    await b.start();
    let bStopped = false;
    try {
      await waitFor('both shares', () => a.partitions.length + b.partitions.length === PARTITIONS);
      expect(sorted([...a.partitions, ...b.partitions])).toEqual(keys.allPartitions());
      await writeEntries(redis, keys, 'in', 0, 400);
      await waitFor('400 outputs', async () => (await streamLength(redis, keys, 'out')) === 400);
      expect(sorted(seenA)).toEqual(sorted(a.partitions));
      expect(sorted(seenB)).toEqual(sorted(b.partitions));

      await b.stop();
      bStopped = true;
      await waitFor('a serving every partition', () => a.partitions.length === PARTITIONS);
      seenA.clear();
      await writeEntries(redis, keys, 'in', 400, 800);
      await waitFor('800 outputs', async () => (await streamLength(redis, keys, 'out')) === 800);
      expect(sorted(seenA)).toEqual(keys.allPartitions());
    } finally {
      await a.stop();
      if (!bStopped) await b.stop();
      await redis.close();
    }
  });

  it('takes over the share of a member that stopped renewing once its membership runs out', async () => {
    const [target] = targets(inject('redisUrl'), inject('redisClusterSeeds'));
    const redis = await connect(target!);
    const keys = new Keys(newPrefix(), PARTITIONS);
    // A member that joined once and then died without leaving.
    await redis.script('reboundMembers', [keys.stageMembers('shared', 'in')], ['ghost', MEMBERSHIP_TTL_MS]);
    const a = runner(redis, keys, 'a', new Set());
    await a.start();
    try {
      await waitFor('a serving half the partitions', () => a.partitions.length === PARTITIONS / 2);
      await waitFor('a serving every partition', () => a.partitions.length === PARTITIONS, MEMBERSHIP_TTL_MS + 5_000);
      expect(await metricValue('rebound_stage_partitions', { stage: 'shared', stream: 'in' })).toBe(PARTITIONS);
    } finally {
      await a.stop();
      await redis.close();
    }
  });
});

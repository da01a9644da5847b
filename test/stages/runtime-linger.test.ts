// Light traffic and `stages.linger`: after a round of reads in which no batch came back full,
// the runner pauses before reading again, so entries that trickle in one at a time are handled
// in a few bigger batches instead of one batch (and one commit) each.
import { describe, expect, inject, it } from 'vitest';
import { encode } from '../../src/core/codec.js';
import { createLogger } from '../../src/core/log.js';
import { Keys } from '../../src/core/redis/keys.js';
import { succeed, type StageDefinition } from '../../src/stages/runtime/stage.js';
import { StageRunner } from '../../src/stages/runtime/stage-runner.js';
import { waitFor } from '../support/processes.js';
import { connect, newPrefix, streamLength, targets } from './pipeline-helpers.js';

const TRICKLE = 20;

describe('stage runner linger', () => {
  it('gathers entries that arrive one by one into a few batches', async () => {
    const [target] = targets(inject('redisUrl'), inject('redisClusterSeeds'));
    const redis = await connect(target!);
    const keys = new Keys(newPrefix(), 4);
    const batchSizes: number[] = [];
    const stage: StageDefinition<{ n: number }> = {
      name: 'lingering',
      input: 'in',
      process: async (items) => {
        batchSizes.push(items.length);
        return items.map((item) => succeed([{ stream: 'out', value: item.value }]));
      },
    };
    const runner = new StageRunner(stage, {
      redis,
      keys,
      consumer: 'linger-test',
      partitions: [0],
      settings: { batchSize: 100, batchBytes: 262_144, maxInFlight: 4, claimIdleMs: 10_000, maxDeliveries: 5, idlePollMs: 5, lingerMs: 1_000, sharePartitions: false, recoverEveryMs: 1000, trimEveryMs: 10_000 },
      logger: createLogger('silent'),
    });
    await runner.start();
    try {
      for (let n = 0; n < TRICKLE; n++) {
        await redis.xadd(keys.stream(0, 'in'), encode({ n }));
        await new Promise((r) => setTimeout(r, 2));
      }
      await waitFor(`${TRICKLE} outputs`, async () => (await streamLength(redis, keys, 'out')) === TRICKLE);
      expect(batchSizes.reduce((a, b) => a + b, 0)).toBe(TRICKLE);
      // Without the pause, each entry would be read on its own as it arrives (about 20 batches).
      expect(batchSizes.length).toBeLessThanOrEqual(3);
    } finally {
      await runner.stop();
      await redis.close();
    }
  });
});

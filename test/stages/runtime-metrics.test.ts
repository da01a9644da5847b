// A stage runner in this process: its metrics count what happened, and an item that fails with
// a non-retriable error is dead-lettered at once (no point in redelivering it).
import { describe, expect, inject, it } from 'vitest';
import { ReboundError } from '../../src/core/errors.js';
import { createLogger } from '../../src/core/log.js';
import { Keys } from '../../src/core/redis/keys.js';
import { fail, succeed, type StageDefinition } from '../../src/stages/runtime/stage.js';
import { StageRunner } from '../../src/stages/runtime/stage-runner.js';
import { waitFor } from '../support/processes.js';
import { connect, metricValue, newPrefix, streamLength, targets, writeEntries } from './pipeline-helpers.js';

describe('stage runner metrics', () => {
  it('counts received, ok and dead-lettered entries, batch latency, and lag and pending of its group', async () => {
    const [target] = targets(inject('redisUrl'), inject('redisClusterSeeds'));
    const redis = await connect(target!);
    const keys = new Keys(newPrefix(), 16);
    const stage: StageDefinition<{ n: number }> = {
      name: 'metered',
      input: 'in',
      process: async (items) =>
        items.map((item) => (item.value.n === 13 ? fail(new ReboundError('CODEC_DECODE_FAILED', 'unlucky entry')) : succeed([{ stream: 'out', value: item.value }]))),
    };
    const runner = new StageRunner(stage, {
      redis,
      keys,
      consumer: 'metrics-test',
      partitions: keys.allPartitions(),
      settings: { batchSize: 50, batchBytes: 262_144, maxInFlight: 4, claimIdleMs: 10_000, maxDeliveries: 5, idlePollMs: 20, lingerMs: 5, sharePartitions: false, recoverEveryMs: 1000, trimEveryMs: 100 },
      logger: createLogger('silent'),
    });
    await runner.start();
    try {
      await writeEntries(redis, keys, 'in', 0, 500);
      const garbage = Buffer.from([0x92, 0x01]); // an array of two that ends after one
      await redis.xadd(keys.stream(2, 'in'), garbage);
      await waitFor('499 outputs', async () => (await streamLength(redis, keys, 'out')) >= 499);
      const dlq = keys.deadLetters(keys.partitionOf('13'), 'in');
      await waitFor('the dead letter', async () => (await redis.xlen(dlq)) === 1);
      expect((await redis.xrangeRecords(dlq))[0]!.fields).toMatchObject({ deliveries: '1', error: 'CODEC_DECODE_FAILED: unlucky entry' });
      const garbageDlq = keys.deadLetters(2, 'in');
      await waitFor('the undecodable entry dead-lettered', async () => (await redis.xrangeRecords(garbageDlq)).some((r) => r.data?.equals(garbage)));
      expect((await redis.xrangeRecords(garbageDlq)).find((r) => r.data?.equals(garbage))!.fields.error).toMatch(/^CODEC_DECODE_FAILED: cannot decode MessagePack/);
      expect(await metricValue('rebound_stage_received_total', { stage: 'metered' })).toBe(501);
      expect(await metricValue('rebound_stage_entries_total', { stage: 'metered', result: 'ok' })).toBe(499);
      expect(await metricValue('rebound_stage_entries_total', { stage: 'metered', result: 'dead_lettered' })).toBe(2);
      expect(await metricValue('rebound_stage_entries_total', { stage: 'metered', result: 'duplicate' })).toBe(0);
      expect(await metricValue('rebound_stage_seconds_count', { stage: 'metered' })).toBeGreaterThan(0);
      await new Promise((r) => setTimeout(r, 300)); // one trim-and-measure round
      expect(await metricValue('rebound_stream_lag', { stream: 'in', group: 'metered' })).toBe(0);
      expect(await metricValue('rebound_stream_pending', { stream: 'in', group: 'metered' })).toBe(0);
    } finally {
      await runner.stop();
      await redis.close();
    }
  });
});

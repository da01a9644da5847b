// Timers follow the stage's share of the partitions (stages.partitions: shared): two detect
// processes each decide the timers of the partitions whose hits they read, and when one stops,
// the other decides them all. Every abandoned cart fires exactly once either way.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { RedisPort } from '../../src/core/redis/client.js';
import { Keys } from '../../src/core/redis/keys.js';
import type { Hit } from '../../src/model/hit.js';
import { newPrefix } from '../stages/pipeline-helpers.js';
import { waitFor } from '../support/processes.js';
import { allDecided, appendEntries, connect, countFires, firedRecords, makeHit, putDefinitions, startDetectRuntime, visitorInPartition, type DetectRuntime } from './detect-harness.js';
import { triggerDocuments } from './trigger-documents.js';

const PARTITIONS = 4;
const cartAbandonment = triggerDocuments.find((doc) => doc.id === 'cart-abandonment') as (typeof triggerDocuments)[number];

let redis: RedisPort;
beforeAll(async () => {
  redis = await connect(inject('redisUrl'));
});
afterAll(async () => redis?.close());

/** An abandoned cart (one cart add) for a visitor of each partition, `count` per partition. */
function abandonedCarts(keys: Keys, tag: string, count: number): Hit[][] {
  return keys.allPartitions().flatMap((p) => Array.from({ length: count }, (_, i) => [makeHit(visitorInPartition(keys, p, `${tag}-${p}-${i}`), { events: ['scAdd'], products: [{ sku: 'S1' }] })]));
}

const sorted = (partitions: Iterable<number>): number[] => [...partitions].sort((a, b) => a - b);

describe('timers with shared partitions', () => {
  it('are decided by the process that reads the partition, and by the one left after the other stops', async () => {
    const keys = new Keys(newPrefix(), PARTITIONS);
    await putDefinitions(redis, keys, { inactivity: '30m' }, [cartAbandonment]);
    const options = { redisUrl: inject('redisUrl'), prefix: keys.prefix, partitions: PARTITIONS, stages: { partitions: 'shared' } };
    const a: DetectRuntime = await startDetectRuntime({ ...options, instance: 'timer-share-a' });
    const b: DetectRuntime = await startDetectRuntime({ ...options, instance: 'timer-share-b' });
    let bClosed = false;
    try {
      await waitFor('two shares', () => a.timerPartitions().length === PARTITIONS / 2 && b.timerPartitions().length === PARTITIONS / 2, 10_000);
      const shareA = sorted(a.timerPartitions());
      expect(sorted([...shareA, ...b.timerPartitions()])).toEqual(keys.allPartitions());

      const first = abandonedCarts(keys, 'shared', 5);
      await appendEntries(redis, keys, first);
      await waitFor('every first-wave timer decided', () => allDecided(redis, keys), 20_000, 100);
      expect(sorted(a.decided)).toEqual(shareA);
      expect(sorted(b.decided)).toEqual(sorted(b.timerPartitions()));

      await b.close();
      bClosed = true;
      await waitFor('one share of everything', () => a.timerPartitions().length === PARTITIONS, 10_000);
      const second = abandonedCarts(keys, 'alone', 5);
      await appendEntries(redis, keys, second);
      await waitFor('every second-wave timer decided', () => allDecided(redis, keys), 20_000, 100);
      expect(sorted(a.decided)).toEqual(keys.allPartitions());

      const fires = countFires(await firedRecords(redis, keys));
      const expected = new Map([...first, ...second].map((visit) => [`${(visit[0] as Hit).visitorId}|${cartAbandonment.id}`, 1]));
      expect(fires).toEqual(expected);
    } finally {
      if (!bClosed) await b.close();
      await a.close();
    }
  }, 60_000);
});

// The detect role's own Redis connection (stages/detect/role.ts): named after the process
// (CLIENT LIST shows `rebound-detect:<consumer>`), without auto-pipelining on a single node; the
// stage's reads and scripts and the timers go over it, and it is closed when the process shuts
// down. (The cluster form of RedisPort.duplicate is covered by test/campaign/connection.test.ts.)
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { RedisPort } from '../../src/core/redis/client.js';
import { Keys } from '../../src/core/redis/keys.js';
import { newPrefix } from '../stages/pipeline-helpers.js';
import { clientNames, goneFrom } from '../support/client-names.js';
import { waitFor } from '../support/processes.js';
import { allDecided, appendEntries, connect, countFires, firedRecords, makeHit, putDefinitions, startDetectRuntime } from './detect-harness.js';
import { triggerDocuments } from './trigger-documents.js';

const cartAbandonment = triggerDocuments.find((doc) => doc.id === 'cart-abandonment') as (typeof triggerDocuments)[number];

let redis: RedisPort;
beforeAll(async () => {
  redis = await connect(inject('redisUrl'));
});
afterAll(async () => redis?.close());

describe('detect role connection', () => {
  it('the role works over a connection of its own, named after the process, closed on shutdown', async () => {
    const keys = new Keys(newPrefix(), 4);
    await putDefinitions(redis, keys, { inactivity: '30m' }, [cartAbandonment]);
    const instance = `detect-conn-${process.pid}-${Date.now().toString(36)}`;
    const name = `rebound-detect:${instance}`;
    const detect = await startDetectRuntime({ redisUrl: inject('redisUrl'), prefix: keys.prefix, instance });
    try {
      const hit = makeHit(`conn-visitor-${instance}`, { events: ['scAdd'], products: [{ sku: 'S1' }] });
      await appendEntries(redis, keys, [[hit]]);
      await waitFor('the abandoned cart decided', () => allDecided(redis, keys), 20_000, 100);
      expect(countFires(await firedRecords(redis, keys))).toEqual(new Map([[`${hit.visitorId}|${cartAbandonment.id}`, 1]]));
      expect(await clientNames({ url: inject('redisUrl') })).toContain(name);
    } finally {
      await detect.close();
    }
    expect(await goneFrom({ url: inject('redisUrl') }, name)).toBe(true);
  });
});

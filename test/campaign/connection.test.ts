// The campaign role's own Redis connection (stages/campaign/role.ts): named after the process
// (CLIENT LIST shows `rebound-campaign:<consumer>`), without auto-pipelining on a single node so
// that a batch's commands go out as they are made; it carries the role's work, on both Redis
// kinds, and is closed when the process shuts down.
import { describe, expect, inject, it } from 'vitest';
import { targets } from '../stages/pipeline-helpers.js';
import { clientNames, goneFrom } from '../support/client-names.js';
import { decided, defineShop, newVisitor, startCampaignHarness } from './campaign-harness.js';

describe.each(targets(inject('redisUrl'), inject('redisClusterSeeds')))('campaign role connection on $name Redis', (target) => {
  it('the role works over a connection of its own, named after the process, closed on shutdown', async () => {
    const instance = `conn-test-${process.pid}-${Date.now().toString(36)}`;
    const name = `rebound-campaign:${instance}`;
    const shop = await startCampaignHarness(target.redis, { instance, before: (runtime) => defineShop(runtime) });
    try {
      await shop.putProfiles({ id: 'u-conn', email: 'conn@example.com', firstName: 'Con' });
      const fired = await shop.fire({ visitorId: newVisitor(), aliases: { userId: 'u-conn' }, cart: [{ sku: 'SKU-1', quantity: 1, price: 10 }] });
      expect(await shop.waitForRecord('EVTcartEmail', fired, decided)).toMatchObject({ status: 'processing', profileId: 'u-conn', to: 'conn@example.com' });
      expect(await clientNames(target.redis)).toContain(name);
    } finally {
      await shop.close();
    }
    expect(await goneFrom(target.redis, name)).toBe(true);
  });
});

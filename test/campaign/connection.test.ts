// The campaign role's own Redis connection (stages/campaign/role.ts): named after the process
// (CLIENT LIST shows `rebound-campaign:<consumer>`), without auto-pipelining on a single node so
// that a batch's commands go out as they are made; it carries the role's work, on both Redis
// kinds, and is closed when the process shuts down.
import { Cluster, Redis } from 'ioredis';
import { describe, expect, inject, it } from 'vitest';
import { targets } from '../stages/pipeline-helpers.js';
import { decided, defineShop, newVisitor, startCampaignHarness } from './campaign-harness.js';

/** Names of the clients connected to the single node, or to every master of the cluster. */
async function clientNames(target: { url?: string; cluster?: string[] }): Promise<string[]> {
  const nodes = target.url !== undefined ? [new Redis(target.url)] : new Cluster(target.cluster!.map((seed) => ({ host: seed.split(':')[0], port: Number(seed.split(':')[1]) })));
  try {
    const servers = nodes instanceof Cluster ? (await nodes.info(), nodes.nodes('master')) : nodes;
    const lists = await Promise.all(servers.map((node) => node.client('LIST') as Promise<string>));
    return lists.flatMap((list) => list.split('\n').map((line) => /(?:^| )name=(\S*)/.exec(line)?.[1] ?? '')).filter((name) => name !== '');
  } finally {
    if (nodes instanceof Cluster) nodes.disconnect();
    else for (const node of nodes) node.disconnect();
  }
}

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
    // QUIT is answered before the server drops the client: look again for a little while.
    let names = await clientNames(target.redis);
    for (let attempt = 0; attempt < 50 && names.includes(name); attempt++) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      names = await clientNames(target.redis);
    }
    expect(names).not.toContain(name);
  });
});

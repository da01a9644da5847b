// Links in sent messages (SPEC §6.2, §6.5), served by the ingest port: a click on a tracked link
// redirects and links the clicking visitor to the profile (later triggers of that visitor
// reconcile through `visitorLink`); the List-Unsubscribe link opts the profile out, which the
// campaign side sees at once; a tampered token changes nothing.
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createIngest } from '../../src/ingest/role.js';
import type { OutboxMessage } from '../../src/model/message.js';
import { decided, defineShop, newVisitor, startCampaignHarness, type CampaignHarness } from './campaign-harness.js';

const redisUrl = inject('redisUrl');

describe('tracked and unsubscribe links', () => {
  let shop: CampaignHarness;
  let base = '';
  let message: OutboxMessage;
  const onIngest = (url: string) => url.replace('http://localhost:8080', base);

  beforeAll(async () => {
    shop = await startCampaignHarness(redisUrl, {
      before: async (runtime) => {
        await defineShop(runtime);
        base = `http://127.0.0.1:${(await createIngest(runtime)).port}`;
      },
    });
    await shop.putProfiles({ id: 'u-click', email: 'click@example.com', firstName: 'Cleo' });
    const fired = await shop.fire({ visitorId: newVisitor(), aliases: { userId: 'u-click' }, cart: [{ sku: 'SKU-1', quantity: 1 }] });
    const record = await shop.waitForRecord('EVTcartEmail', fired, decided);
    expect(record).toMatchObject({ status: "processing" });
    message = (await shop.outbox("email")).find((m) => m.id === record.id)!;
  });
  afterAll(() => shop.close());

  it('a click redirects to the target and links the clicking visitor to the profile', async () => {
    const tracked = /href="(http:\/\/localhost:8080\/c\/[^"]+)"/.exec(message.html!)![1]!;
    const visitorId = newVisitor();
    const response = await fetch(`${onIngest(tracked)}?mid=${visitorId}`, { redirect: 'manual' });
    expect(response.status).toBe(302);
    expect(response.headers.get('location')).toMatch(/^https:\/\/shop\.example\.com\/cart\?v=/);
    // The link expires with the visitor's state, even for a visitor detect has not seen yet.
    const { redis, keys, config } = shop.runtime;
    const probe = new Redis(inject('redisUrl'));
    const ttl = await probe.pttl(keys.visitor(keys.partitionOf(visitorId), visitorId));
    probe.disconnect();
    expect(ttl).toBeGreaterThan(config.detect.visitorTtl - 60_000);
    expect(await redis.hget(keys.visitor(keys.partitionOf(visitorId), visitorId), 'link')).toBe('u-click');
    // The visitor, anonymous on this device, abandons a cart: reconciled through the click.
    const fired = await shop.fire({ visitorId, cart: [{ sku: 'SKU-2', quantity: 1 }] });
    expect(await shop.waitForRecord('EVTcartEmail', fired, decided)).toMatchObject({ status: 'processing', profileId: 'u-click' });
  });

  it('a tampered link is refused and records nothing', async () => {
    const tracked = /href="(http:\/\/localhost:8080\/c\/[^"]+)"/.exec(message.html!)![1]!;
    const visitorId = newVisitor();
    const response = await fetch(`${onIngest(tracked)}x?mid=${visitorId}`, { redirect: 'manual' });
    expect(response.status).toBe(404);
    expect(((await response.json()) as { error: { code: string } }).error.code).toBe('LINK_INVALID');
    const { redis, keys } = shop.runtime;
    expect(await redis.hgetall(keys.visitor(keys.partitionOf(visitorId), visitorId))).toEqual({});
  });

  it('one-click unsubscribe opts the profile out; its next trigger is ignored optOut', async () => {
    const unsubscribe = /^<(.+)>$/.exec(message.headers!['List-Unsubscribe']!)![1]!;
    const response = await fetch(onIngest(unsubscribe), { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'List-Unsubscribe=One-Click' });
    expect(response.status).toBe(200);
    expect((await shop.profiles.get('u-click'))?.emailOptOut).toBe(true);
    const fired = await shop.fire({ visitorId: newVisitor(), aliases: { userId: 'u-click' } });
    expect(await shop.waitForRecord('EVTcartEmail', fired, decided)).toMatchObject({ status: 'ignored', reason: 'optOut' });
  });
});

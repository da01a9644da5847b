// More paths through the campaign stage: SMS, event-based targeting (recipient from the payload),
// a required enrichment that finds nothing, and a visit that converts while its message waits —
// the last one with the real detect role turning hits into the trigger message.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { encodeHits, type Hit } from '../../src/model/hit.js';
import { putEvent } from '../../src/model/event-store.js';
import { publishEvent, publishTemplate } from '../../src/model/lifecycle.js';
import { putSource } from '../../src/model/source-store.js';
import { putTemplate } from '../../src/model/template-store.js';
import { decodeFiredRecord, type FiredRecord } from '../../src/model/trigger-message.js';
import { putTrigger } from '../../src/model/trigger-store.js';
import { startDetect } from '../../src/stages/detect/role.js';
import { decided, defineShop, newVisitor, startCampaignHarness, type CampaignHarness } from './campaign-harness.js';

const redisUrl = inject('redisUrl');

describe('campaign stage: channels and targeting', () => {
  let shop: CampaignHarness;
  beforeAll(async () => {
    shop = await startCampaignHarness(redisUrl, {
      before: async (runtime) => {
        const { redis, keys } = runtime;
        await defineShop(runtime, { event: { id: 'EVTcartRequired', enrichment: [{ name: 'cart', resource: 'catalog', join: { sku: 'ctx.products[].sku' }, required: true }] } });
        await putTemplate(redis, keys, { kind: 'Template', id: 'cart-sms', channel: 'sms', text: '{{default profile.firstName "Hi"}}, votre panier vous attend : {{ctx.dims.cartUrl}}' });
        await publishTemplate(redis, keys, 'cart-sms');
        await putEvent(redis, keys, { kind: 'Event', id: 'EVTcartSms', trigger: 'cart-abandonment', channel: 'sms', targeting: 'profile', reconciliation: [{ alias: 'userId', profileField: 'id' }], validity: '1d', template: 'cart-sms' });
        await publishEvent(redis, keys, 'EVTcartSms');
        await putTemplate(redis, keys, { kind: 'Template', id: 'browse-email', channel: 'email', subject: 'Still looking at {{ctx.dims.pageName}}?', html: '<p>{{#listing ctx.products}}{{sku}}{{/listing}}</p>' });
        await publishTemplate(redis, keys, 'browse-email');
        await putEvent(redis, keys, { kind: 'Event', id: 'EVTbrowse', trigger: 'browse-abandonment', channel: 'email', targeting: 'event', recipient: { email: 'ctx.dims.eVar9' }, validity: '1d', template: 'browse-email' });
        await publishEvent(redis, keys, 'EVTbrowse');
      },
    });
    await shop.putProfiles({ id: 'u-sms', email: 'sms@example.com', phone: '+33 6 12 34 56 78', firstName: 'Zoé' });
  });
  afterAll(() => shop.close());

  it('an SMS event renders text to the SMS outbox with its encoding and segments', async () => {
    const fired = await shop.fire({ visitorId: newVisitor(), aliases: { userId: 'u-sms' }, metadata: { cartUrl: ['https://shop.example.com/c/1'] }, cart: [{ sku: 'SKU-1', quantity: 1 }] });
    const record = await shop.waitForRecord('EVTcartSms', fired, decided);
    expect(record).toMatchObject({ status: 'processing', channel: 'sms', to: '+33612345678' });
    const sms = (await shop.outbox('sms')).find((m) => m.id === record.id);
    expect(sms).toMatchObject({ to: '+33612345678', text: 'Zoé, votre panier vous attend : https://shop.example.com/c/1', sms: { encoding: 'GSM-7', segments: 1 } });
  });

  it('a required enrichment that finds nothing is targetingFailed enrichmentMissing', async () => {
    const fired = await shop.fire({ visitorId: newVisitor(), aliases: { userId: 'u-sms' }, cart: [{ sku: 'SKU-UNKNOWN', quantity: 1 }] });
    expect(await shop.waitForRecord('EVTcartRequired', fired, decided)).toMatchObject({ status: 'targetingFailed', reason: 'enrichmentMissing' });
    // The same trigger message still goes out on the trigger's other event (no required enrichment).
    expect(await shop.waitForRecord('EVTcartSms', fired, decided)).toMatchObject({ status: 'processing' });
  });

  it('an event-based message takes its recipient from the payload, and without it is aliasMissing', async () => {
    const base = { triggerId: 'tid-browse', triggerName: 'browse-abandonment', cart: [{ sku: 'SKU-9', quantity: 1 }] };
    const fired = await shop.fire({ ...base, visitorId: newVisitor(), metadata: { pageName: ['Summer Deals'], eVar9: ['Visitor@Example.com'] } });
    const record = await shop.waitForRecord('EVTbrowse', fired, decided);
    expect(record).toMatchObject({ status: 'processing', to: 'visitor@example.com' });
    const message = (await shop.outbox('email')).find((m) => m.id === record.id);
    expect(message).toMatchObject({ subject: 'Still looking at Summer Deals?' });
    expect(message!.headers).toBeUndefined(); // no unsubscribe block for event-based messages (Adobe)
    const anonymous = await shop.fire({ ...base, visitorId: newVisitor(), metadata: { pageName: ['Summer Deals'] } });
    expect(await shop.waitForRecord('EVTbrowse', anonymous, decided)).toMatchObject({ status: 'targetingFailed', reason: 'aliasMissing' });
  });
});

describe('campaign stage with detect: identity and conversion after firing', () => {
  let shop: CampaignHarness;
  beforeAll(async () => {
    shop = await startCampaignHarness(redisUrl, {
      before: async (runtime) => {
        const { redis, keys } = runtime;
        await putSource(redis, keys, { kind: 'Source', id: 'shop-web', writeKeys: ['wk_test_0123456789'], visit: { inactivity: '30s' } });
        await putTrigger(redis, keys, {
          kind: 'Trigger', id: 'cart-abandonment', name: 'Cart abandonment', source: 'shop-web', type: 'abandonment', inactivity: '1s',
          include: { match: 'all', containers: [[{ metric: 'scAdd', op: 'exists' }]] },
          exclude: { match: 'any', containers: [[{ metric: 'purchase', op: 'exists' }]] },
          metadata: ['products'],
        });
        await defineShop(runtime);
        await startDetect(runtime);
      },
    });
    await shop.putProfiles({ id: 'u-buyer', email: 'buyer@example.com' }, { id: 'u-late', email: 'late@example.com' });
  });
  afterAll(() => shop.close());

  let hits = 0;
  const send = async (hit: Partial<Hit> & { visitorId: string }) => {
    const { redis, keys } = shop.runtime;
    const now = Date.now();
    const full: Hit = { id: `cv-${process.pid}-${++hits}`, source: 'shop-web', ts: now, receivedAt: now, type: 'track', events: [], ...hit };
    await redis.xadd(keys.stream(keys.partitionOf(full.visitorId), 'hits'), encodeHits([full]));
  };

  /** An anonymous visitor adds to cart and leaves: the trigger fires after 1 s of inactivity. */
  async function abandonedCart(): Promise<FiredRecord> {
    const { redis, keys } = shop.runtime;
    const visitorId = newVisitor();
    await send({ visitorId, events: ['scAdd'], products: [{ sku: 'SKU-1', quantity: 1, price: 89.9 }] });
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
      const entries = await redis.xrange(keys.stream(keys.partitionOf(visitorId), 'fired'));
      const record = entries.map((entry) => decodeFiredRecord(entry.data as Buffer)).find((r) => r.visitorId === visitorId);
      if (record !== undefined) return record;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    throw new Error('the trigger did not fire');
  }

  it('a visitor who identifies 3 s after the trigger fired is reconciled then', async () => {
    const record = await abandonedCart();
    expect(await shop.waitForRecord('EVTcartEmail', record, (r) => r.status === 'pending')).toMatchObject({ reason: 'awaitingIdentity' });
    await new Promise((resolve) => setTimeout(resolve, 3000));
    await send({ visitorId: record.visitorId, type: 'identify', aliases: { userId: 'u-late' } });
    expect(await shop.waitForRecord('EVTcartEmail', record, decided, 15_000)).toMatchObject({ status: 'processing', profileId: 'u-late' });
  });

  it('a purchase after the trigger fired, before the message went out, ignores it as converted', async () => {
    const record = await abandonedCart();
    expect(await shop.waitForRecord('EVTcartEmail', record, (r) => r.status === 'pending')).toMatchObject({ reason: 'awaitingIdentity' });
    // The visitor buys, then logs in: the identity arrives, but the visit has converted.
    await send({ visitorId: record.visitorId, events: ['purchase'] });
    await send({ visitorId: record.visitorId, type: 'identify', aliases: { userId: 'u-buyer' } });
    const outcome = await shop.waitForRecord('EVTcartEmail', record, decided, 15_000);
    expect(outcome).toMatchObject({ status: 'ignored', reason: 'converted', profileId: 'u-buyer' });
    expect((await shop.outbox('email')).some((m) => m.id === outcome.id)).toBe(false);
  });
});

// The Segment-compatible API driven by the real @segment/analytics-node client: e-commerce
// events, identify, page, batches and a retried messageId, read back as canonical hits.
import { Analytics } from '@segment/analytics-node';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Hit } from '../../src/model/hit.js';
import { sourceId, startTestIngest, writeKey, type TestIngest } from './helpers.js';

let t: TestIngest;
beforeAll(async () => {
  t = await startTestIngest(inject('redisUrl'));
});
afterAll(() => t.close());

function client(): Analytics {
  return new Analytics({ writeKey, host: t.base, flushAt: 50, flushInterval: 50, maxRetries: 3 });
}

const byEvent = (hits: Hit[], event: string): Hit | undefined => hits.find((hit) => hit.events.includes(event));

describe('Segment analytics-node → canonical hits', () => {
  let hits: Hit[];
  beforeAll(async () => {
    const analytics = client();
    const context = { page: { url: 'https://shop.example/p/42', title: 'Red shoes', referrer: 'https://google.com/' } };
    analytics.track({ anonymousId: 'anon-1', event: 'Product Viewed', properties: { product_id: 'sku-42', name: 'Red shoes', category: 'shoes', price: 59.9 }, context });
    analytics.track({ anonymousId: 'anon-1', userId: 'user-1', event: 'Product Added', properties: { cart_id: 'c1', products: [{ product_id: 'sku-42', name: 'Red shoes', price: 59.9, quantity: 2 }, { sku: 'sku-7', quantity: 1, price: 5 }] } });
    analytics.track({ anonymousId: 'anon-1', event: 'Order Completed', properties: { order_id: 'o-9', revenue: 124.8, products: [{ product_id: 'sku-42', quantity: 2 }] } });
    analytics.track({ anonymousId: 'anon-2', event: 'Products Searched', properties: { query: 'blue socks' } });
    analytics.track({ anonymousId: 'anon-2', event: 'Newsletter Signup', properties: { nested: { level: 2, flag: true }, __proto__: { polluted: true } } });
    analytics.identify({ anonymousId: 'anon-1', userId: 'user-1', traits: { email: 'jane@example.com', plan: 'gold', constructor: { prototype: { bad: 1 } } } });
    analytics.page({ anonymousId: 'anon-3', name: 'Home', properties: { url: 'https://shop.example/' } });
    analytics.track({ anonymousId: 'anon-4', event: 'Retried', messageId: 'msg-retry-1' });
    analytics.track({ anonymousId: 'anon-4', event: 'Retried', messageId: 'msg-retry-1' });
    const skewed = new Date(Date.now() - 3_600_000);
    analytics.track({ anonymousId: 'anon-5', event: 'Skewed', timestamp: skewed });
    await analytics.closeAndFlush({ timeout: 10_000 });
    hits = await t.hits();
  });

  it('writes every message with the source, the visitor and the stable messageId', () => {
    expect(hits).toHaveLength(10);
    for (const hit of hits) {
      expect(hit.source).toBe(sourceId);
      expect(hit.id).toMatch(/.+/);
      expect(hit.receivedAt).toBeGreaterThan(Date.now() - 60_000);
    }
  });

  it('maps Product Viewed to prodView with the single product and the page context', () => {
    const hit = byEvent(hits, 'prodView');
    expect(hit).toMatchObject({ type: 'track', visitorId: 'anon-1', pageURL: 'https://shop.example/p/42', pageName: 'Red shoes', referrer: 'https://google.com/' });
    expect(hit?.products).toEqual([{ sku: 'sku-42', name: 'Red shoes', category: 'shoes', price: 59.9 }]);
    expect(hit?.dims?.['properties.price']).toBe(59.9);
  });

  it('maps Product Added to scAdd with products[] and userId as a declared id', () => {
    const hit = byEvent(hits, 'scAdd');
    expect(hit?.aliases).toEqual({ userId: 'user-1' });
    expect(hit?.products).toEqual([
      { sku: 'sku-42', name: 'Red shoes', price: 59.9, quantity: 2 },
      { sku: 'sku-7', quantity: 1, price: 5 },
    ]);
    expect(hit?.dims?.['properties.cart_id']).toBe('c1');
  });

  it('maps Order Completed to purchase with its order id, and Products Searched to search with the term', () => {
    expect(byEvent(hits, 'purchase')?.dims).toMatchObject({ purchaseID: 'o-9', 'properties.revenue': 124.8 });
    expect(byEvent(hits, 'search')).toMatchObject({ searchTerm: 'blue socks', visitorId: 'anon-2' });
  });

  it('keeps other event names, flattens properties and drops prototype keys', () => {
    const hit = byEvent(hits, 'Newsletter Signup');
    expect(hit?.dims).toMatchObject({ 'properties.nested.level': 2, 'properties.nested.flag': true });
    expect(Object.keys(hit?.dims ?? {}).some((key) => key.includes('__proto__') || key.includes('polluted'))).toBe(false);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('maps identify traits, the email as a declared id, without constructor keys', () => {
    const hit = hits.find((h) => h.type === 'identify');
    expect(hit).toMatchObject({ visitorId: 'anon-1', aliases: { userId: 'user-1', email: 'jane@example.com' }, events: [] });
    expect(hit?.traits).toEqual({ email: 'jane@example.com', plan: 'gold' });
  });

  it('maps page name and url', () => {
    expect(hits.find((h) => h.type === 'page')).toMatchObject({ visitorId: 'anon-3', pageName: 'Home', pageURL: 'https://shop.example/' });
  });

  it('gives a retried messageId the same hit id (detect counts it once)', () => {
    const retried = hits.filter((h) => h.events.includes('Retried'));
    expect(retried.map((h) => h.id)).toEqual(['msg-retry-1', 'msg-retry-1']);
    expect(new Set(hits.map((h) => h.id)).size).toBe(9);
  });

  it('keeps the client timestamp, corrected for skew with sentAt', () => {
    const hit = byEvent(hits, 'Skewed');
    expect(Math.abs((hit?.ts ?? 0) - (Date.now() - 3_600_000))).toBeLessThan(30_000);
  });
});

describe('Segment HTTP details', () => {
  it('corrects client clock skew: receivedAt − (sentAt − timestamp)', async () => {
    const clientNow = Date.now() + 3_600_000; // the device clock is an hour ahead
    const body = { writeKey, anonymousId: 'skew-1', event: 'Clock', timestamp: new Date(clientNow - 5000).toISOString(), sentAt: new Date(clientNow).toISOString() };
    const response = await fetch(`${t.base}/v1/track`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    expect(response.status).toBe(200);
    const hit = (await t.hits()).find((h) => h.visitorId === 'skew-1');
    expect(hit).toBeDefined();
    expect(Math.abs((hit as Hit).ts - ((hit as Hit).receivedAt - 5000))).toBeLessThan(5);
  });

  it('answers a batch of 100 in one request, all-or-nothing', async () => {
    const batch = Array.from({ length: 100 }, (_, i) => ({ type: 'track', anonymousId: `b-${i}`, event: 'Bulk', messageId: `bulk-${i}` }));
    const ok = await fetch(`${t.base}/v1/batch`, { method: 'POST', headers: { authorization: t.auth, 'content-type': 'application/json' }, body: JSON.stringify({ batch }) });
    expect(ok.status).toBe(200);
    expect(await ok.json()).toEqual({ success: true });
    const before = (await t.hits()).length;
    const bad = [...batch.slice(0, 50), { type: 'track', event: 'No id' }, ...batch.slice(50)];
    const refused = await fetch(`${t.base}/v1/batch`, { method: 'POST', headers: { authorization: t.auth, 'content-type': 'application/json' }, body: JSON.stringify({ batch: bad }) });
    expect(refused.status).toBe(400);
    expect(await refused.json()).toMatchObject({ error: { code: 'HIT_INVALID', index: 50 } });
    expect((await t.hits()).length).toBe(before);
    expect((await t.hits()).filter((h) => h.events.includes('Bulk'))).toHaveLength(100);
  });
});

describe('ingest metrics', () => {
  it('counts hits by source and result, request latency and bytes', async () => {
    const { metricsRegistry } = await import('../../src/core/metrics.js');
    const text = await metricsRegistry.metrics();
    expect(text).toMatch(/rebound_ingest_hits_total\{source="shop-web",result="written"\} [1-9]/);
    expect(text).toMatch(/rebound_ingest_hits_total\{source="shop-web",result="rejected"\} [1-9]/);
    expect(text).toMatch(/rebound_ingest_request_seconds_count\{route="segment.batch",status="200"\} [1-9]/);
    expect(text).toMatch(/rebound_ingest_bytes_total\{route="segment.batch"\} [1-9]/);
  });
});

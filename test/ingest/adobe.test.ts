// AppMeasurement image requests (GET and long POST forms) mapped as Adobe documents them.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Hit } from '../../src/model/hit.js';
import { sourceId, startTestIngest, type TestIngest } from './helpers.js';

let t: TestIngest;
beforeAll(async () => {
  t = await startTestIngest(inject('redisUrl'));
});
afterAll(() => t.close());

async function beacon(query: string, post = false): Promise<{ status: number; type: string | null; hit: Hit | undefined }> {
  const before = new Set((await t.hits()).map((h) => h.id));
  const path = `${t.base}/b/ss/${sourceId}/1/JS-2.22.0/s${Math.floor(Math.random() * 1e12)}`;
  const response = post
    ? await fetch(path, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: query })
    : await fetch(`${path}?${query}`);
  await response.arrayBuffer();
  const hit = (await t.hits()).find((h) => !before.has(h.id));
  return { status: response.status, type: response.headers.get('content-type'), hit };
}

describe('AppMeasurement requests', () => {
  it('maps a product view with mid, page fields and the 43-byte GIF answer', async () => {
    const response = await fetch(`${t.base}/b/ss/${sourceId}/1/JS-2.22.0/s1?mid=111&pageName=Product%3A%20Shoes&g=https%3A%2F%2Fshop.example%2Fp%2F1&r=https%3A%2F%2Fgoogle.com&events=prodView&products=%3Bsku-1&ts=1700000000`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('image/gif');
    expect((await response.arrayBuffer()).byteLength).toBe(43);
    const hit = (await t.hits()).find((h) => h.visitorId === '111');
    expect(hit).toMatchObject({ source: sourceId, type: 'page', events: ['prodView'], pageName: 'Product: Shoes', pageURL: 'https://shop.example/p/1', referrer: 'https://google.com', ts: 1_700_000_000_000, products: [{ sku: 'sku-1' }] });
  });

  it('maps a cart add with products, merchandising eVars, eVars and props', async () => {
    const { status, hit } = await beacon(`aid=A-222&events=scOpen,scAdd&products=${encodeURIComponent('Shoes;sku-1;2;119.80;;eVar3=red|eVar4=42,Socks;sku-2;1;5')}&v1=${'x'.repeat(300)}&v2=summer&c1=${'p'.repeat(150)}&c5=home`);
    expect(status).toBe(200);
    expect(hit).toMatchObject({ visitorId: 'A-222', events: ['scOpen', 'scAdd'], products: [{ category: 'Shoes', sku: 'sku-1', quantity: 2, price: 119.8 }, { category: 'Socks', sku: 'sku-2', quantity: 1, price: 5 }] });
    expect(hit?.dims).toMatchObject({ eVar2: 'summer', prop5: 'home', 'products.0.eVar3': 'red', 'products.0.eVar4': '42' });
    expect(String(hit?.dims?.eVar1)).toHaveLength(255);
    expect(String(hit?.dims?.prop1)).toHaveLength(100);
  });

  it('maps a purchase with purchaseID, product events and customer ids', async () => {
    const { hit } = await beacon(`mid=333&events=purchase,event5&purchaseID=ORD-77&products=${encodeURIComponent(';sku-9;1;30;event5=2.5')}&cid.crm.id=C-1&cid.crm.as=1`);
    expect(hit).toMatchObject({ events: ['purchase', 'event5'], eventValues: { event5: 2.5 }, aliases: { crm: 'C-1' }, products: [{ sku: 'sku-9', quantity: 1, price: 30 }] });
    expect(hit?.dims?.purchaseID).toBe('ORD-77');
  });

  it('maps custom events with values and serialisation, and context-data customer ids', async () => {
    const { hit } = await beacon('mid=444&events=event1%3D3,event2%3Aserial-9,event3&cid.&userid.&id=U-5&as=1&.userid&.cid&c.&shop.&lang=fr&.shop&.c');
    expect(hit?.events).toEqual(['event1', 'event2', 'event3']);
    expect(hit?.eventValues).toEqual({ event1: 3 });
    expect(hit?.aliases).toEqual({ userid: 'U-5' });
    expect(hit?.dims).toMatchObject({ 'serial.event2': 'serial-9', 'contextData.shop.lang': 'fr' });
  });

  it('accepts a long POST form and answers 204 to AQB/AQE with ndh=0', async () => {
    const eVars = Array.from({ length: 100 }, (_, i) => `v${i + 1}=${'e'.repeat(200)}`).join('&');
    const response = await fetch(`${t.base}/b/ss/${sourceId}/1/JS-2.22.0/s2`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `AQB=1&ndh=0&vid=V-555&pageName=Long&${eVars}&AQE=1` });
    expect(response.status).toBe(204);
    const hit = (await t.hits()).find((h) => h.visitorId === 'V-555');
    expect(hit?.pageName).toBe('Long');
    expect(Object.keys(hit?.dims ?? {}).filter((k) => k.startsWith('eVar'))).toHaveLength(100);
  });

  it('gives an identical resend the same hit id', async () => {
    const url = `${t.base}/b/ss/${sourceId}/1/JS-2.22.0/s3?mid=666&ts=1700000001&events=event9`;
    await (await fetch(url)).arrayBuffer();
    await (await fetch(url)).arrayBuffer();
    const ids = (await t.hits()).filter((h) => h.visitorId === '666').map((h) => h.id);
    expect(ids).toHaveLength(2);
    expect(ids[0]).toBe(ids[1]);
  });

  it('refuses an unknown report suite with 404', async () => {
    const response = await fetch(`${t.base}/b/ss/nosuchsuite/1/JS/s4?mid=1`);
    expect(response.status).toBe(404);
    expect(await response.json()).toMatchObject({ error: { code: 'INGEST_SOURCE_UNKNOWN' } });
  });
});

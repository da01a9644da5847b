// Shoppers of the demo shop as its website would report them: Segment calls through the real
// @segment/analytics-node client (page views, Product Viewed / Added, Products Searched,
// Checkout Started, Order Completed, identify), or AppMeasurement image requests for a site
// still tagged for Adobe Analytics. Products carry only their SKU and price, so the names a
// message shows can only come from the catalog enrichment. A visit is queued whole and then
// flushed, so its hits arrive within milliseconds of each other (well inside the 2 s inactivity).
import { Analytics } from '@segment/analytics-node';
import { writeKey, type Product } from './shop-setup.js';

export interface Identity {
  anonymousId: string;
  /** Signed in: every hit carries the userId (the profile id). */
  userId?: string;
}

export type Visit = (client: Analytics, who: Identity) => void;

const base = (who: Identity) => ({ anonymousId: who.anonymousId, ...(who.userId === undefined ? {} : { userId: who.userId }) });
const page = (url: string, title: string) => ({ context: { page: { url, title } } });
const item = (p: Product, quantity?: number) => ({ product_id: p.sku, price: p.price, ...(quantity === undefined ? {} : { quantity }) });

export function segmentClient(ingestUrl: string, errors: string[]): Analytics {
  const client = new Analytics({ writeKey, host: ingestUrl, flushAt: 100, flushInterval: 20, maxRetries: 5 });
  client.on('error', (err) => errors.push(String((err as { reason?: unknown }).reason ?? err.code)));
  return client;
}

export const home: Visit = (client, who) => client.page({ ...base(who), name: 'Home', ...page('https://shop.example.com/', 'Home') });

export const viewProducts =
  (products: readonly Product[]): Visit =>
  (client, who) => {
    for (const p of products) client.track({ ...base(who), event: 'Product Viewed', properties: { ...item(p), category: p.category }, ...page(`https://shop.example.com/p/${p.sku}`, p.sku) });
  };

export const addToCart =
  (products: readonly Product[]): Visit =>
  (client, who) => {
    for (const p of products) client.track({ ...base(who), event: 'Product Added', properties: item(p, 1), ...page(`https://shop.example.com/p/${p.sku}`, p.sku) });
    client.track({ ...base(who), event: 'Cart Viewed', ...page('https://shop.example.com/cart', 'Cart') });
  };

export const search =
  (query: string): Visit =>
  (client, who) =>
    client.track({ ...base(who), event: 'Products Searched', properties: { query }, ...page(`https://shop.example.com/search?q=${encodeURIComponent(query)}`, 'Search') });

export const buy =
  (products: readonly Product[]): Visit =>
  (client, who) => {
    const revenue = products.reduce((sum, p) => sum + p.price, 0);
    client.track({ ...base(who), event: 'Checkout Started', properties: { products: products.map((p) => item(p, 1)), revenue } });
    client.track({ ...base(who), event: 'Order Completed', properties: { order_id: `o-${who.anonymousId}`, products: products.map((p) => item(p, 1)), revenue, currency: 'EUR' } });
  };

export const identifyByEmail =
  (email: string): Visit =>
  (client, who) =>
    client.identify({ anonymousId: who.anonymousId, traits: { email } });

/** Queues every step of a visit on the client (the caller flushes). */
export function visit(client: Analytics, who: Identity, ...steps: Visit[]): void {
  for (const step of steps) step(client, who);
}

/** An AppMeasurement image request (GET /b/ss/{rsid}/1/…): `params` as AppMeasurement sends them. */
export async function adobeHit(ingestUrl: string, params: Record<string, string>): Promise<number> {
  const query = new URLSearchParams({ AQB: '1', ndh: '1', ...params, AQE: '1' });
  const response = await fetch(`${ingestUrl}/b/ss/shop-web/1/JS-2.22.0/s${Date.now()}?${query}`);
  await response.arrayBuffer();
  return response.status;
}

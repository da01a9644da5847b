// Simulated shoppers for `rebound demo`: each arrival is a short visit written as Segment HTTP
// Tracking API messages (what analytics.js would send), with the time each is due. Some browse,
// some search, some add to cart and leave, some buy; some are signed in (userId), some give their
// email, some identify late (after their abandonment trigger has fired: the campaign side then
// reconciles the waiting message), the rest stay anonymous. Products and customers come from the
// demo shop's catalog.ndjson and profiles.ndjson. Added products carry no name on purpose: the
// names in the messages come from the catalog enrichment.
import { randomUUID } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ReboundError } from '../core/errors.js';

export interface ShopProduct {
  sku: string;
  name: string;
  price: number;
  category: string;
  url: string;
}

export interface ShopCustomer {
  id: string;
  email?: string;
}

export interface ShopData {
  products: ShopProduct[];
  customers: ShopCustomer[];
}

/** A Segment message and when it is due (ms after the shopper arrived). */
export interface ShopperStep {
  at: number;
  message: Record<string, unknown>;
}

export type ShopperKind = 'browse' | 'search' | 'cart' | 'buy';
export type IdentityKind = 'signedIn' | 'email' | 'late' | 'anonymous';

export interface Shopper {
  kind: ShopperKind;
  identity: IdentityKind;
  steps: ShopperStep[];
}

export interface ShopperTiming {
  /** Time between two hits of a visit. */
  stepMs: number;
  /** How long after the last hit a late identifier identifies (after the trigger's inactivity). */
  lateIdentifyMs: number;
}

const maxDataBytes = 50 * 1024 * 1024;

function readLines(file: string): unknown[] {
  let text: string;
  try {
    if (statSync(file).size > maxDataBytes) throw new Error(`larger than ${maxDataBytes} bytes`);
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ReboundError('CONFIG_FILE_UNREADABLE', `demo.definitions: cannot read ${file}: ${(err as Error).message}`, { cause: err, path: 'demo.definitions' });
  }
  return text.split('\n').flatMap((line) => {
    try {
      return line.trim() === '' ? [] : [JSON.parse(line) as unknown];
    } catch {
      return [];
    }
  });
}

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/** The shop's products and customers, from the NDJSON files of the definitions folder. */
export function loadShopData(dir: string): ShopData {
  const products = readLines(join(dir, 'catalog.ndjson'))
    .filter(isRecord)
    .filter((row) => typeof row.sku === 'string' && typeof row.price === 'number')
    .map((row) => ({ sku: row.sku as string, name: String(row.name ?? row.sku), price: row.price as number, category: String(row.category ?? 'Shop'), url: String(row.url ?? `https://shop.example.com/p/${String(row.sku)}`) }));
  const customers = readLines(join(dir, 'profiles.ndjson'))
    .filter(isRecord)
    .filter((row) => typeof row.id === 'string')
    .map((row) => ({ id: row.id as string, ...(typeof row.email === 'string' ? { email: row.email } : {}) }));
  if (products.length === 0 || customers.length === 0) {
    throw new ReboundError('CONFIG_FILE_UNREADABLE', `demo.definitions: ${dir} needs catalog.ndjson and profiles.ndjson with at least one row each`, { path: 'demo.definitions' });
  }
  return { products, customers };
}

type Rand = () => number;
const pickFrom = <T>(rand: Rand, items: readonly T[]): T => items[Math.floor(rand() * items.length)] as T;

function weighted<T extends string>(rand: Rand, weights: Record<T, number>): T {
  let roll = rand() * Object.values<number>(weights).reduce((a, b) => a + b, 0);
  for (const [name, weight] of Object.entries<number>(weights)) {
    roll -= weight;
    if (roll < 0) return name as T;
  }
  return Object.keys(weights)[0] as T;
}

const kindWeights: Record<ShopperKind, number> = { browse: 30, search: 15, cart: 35, buy: 20 };
const identityWeights: Record<IdentityKind, number> = { signedIn: 40, email: 15, late: 25, anonymous: 20 };

/** A search a shopper could type for a product: "Alpine Leather Trousers (Rust)" → "leather trousers". */
export function queryFor(product: ShopProduct): string {
  const words = product.name.replace(/\(.*\)/, '').trim().split(/\s+/);
  return words.slice(-2).join(' ').toLowerCase();
}

const productProps = (p: ShopProduct, quantity?: number) => ({ product_id: p.sku, sku: p.sku, category: p.category, price: p.price, ...(quantity === undefined ? {} : { quantity }) });

/** The visit of one shopper: its kind, its identity and its messages with their due times. */
export function planShopper(data: ShopData, timing: ShopperTiming, rand: Rand = Math.random): Shopper {
  const kind = weighted(rand, kindWeights);
  const identity = weighted(rand, identityWeights);
  const customer = pickFrom(rand, data.customers);
  const anonymousId = `demo-${randomUUID()}`;
  const base = (): Record<string, unknown> => ({ anonymousId, messageId: randomUUID(), ...(identity === 'signedIn' ? { userId: customer.id } : {}) });
  const page = (url: string, title: string) => ({ context: { page: { url, title } } });
  const hits: Array<Record<string, unknown>> = [];
  if (identity === 'email' && customer.email !== undefined) hits.push({ ...base(), type: 'identify', traits: { email: customer.email } });
  hits.push({ ...base(), type: 'page', name: 'Home', ...page('https://shop.example.com/', 'Home') });
  const viewed = Array.from({ length: 1 + Math.floor(rand() * 3) }, () => pickFrom(rand, data.products));
  const view = (p: ShopProduct) => ({ ...base(), type: 'track', event: 'Product Viewed', properties: { ...productProps(p), name: p.name }, ...page(p.url, p.name) });
  if (kind === 'search') {
    const query = queryFor(pickFrom(rand, data.products));
    hits.push({ ...base(), type: 'track', event: 'Products Searched', properties: { query }, ...page(`https://shop.example.com/search?q=${encodeURIComponent(query)}`, 'Search') });
  } else {
    hits.push(...viewed.map(view));
  }
  const cart = viewed.slice(0, 1 + Math.floor(rand() * Math.min(2, viewed.length))).map((p) => ({ p, quantity: 1 + Math.floor(rand() * 2) }));
  if (kind === 'cart' || kind === 'buy') {
    for (const { p, quantity } of cart) hits.push({ ...base(), type: 'track', event: 'Product Added', properties: productProps(p, quantity), ...page(p.url, p.name) });
    hits.push({ ...base(), type: 'track', event: 'Cart Viewed', ...page('https://shop.example.com/cart', 'Cart') });
  }
  if (kind === 'buy') {
    const products = cart.map(({ p, quantity }) => productProps(p, quantity));
    const revenue = Math.round(cart.reduce((sum, { p, quantity }) => sum + p.price * quantity, 0) * 100) / 100;
    hits.push({ ...base(), type: 'track', event: 'Checkout Started', properties: { products, revenue, currency: 'EUR' }, ...page('https://shop.example.com/checkout', 'Checkout') });
    hits.push({ ...base(), type: 'track', event: 'Order Completed', properties: { order_id: `demo-${randomUUID()}`, products, revenue, currency: 'EUR' }, ...page('https://shop.example.com/checkout/done', 'Thank you') });
  }
  let at = 0;
  const steps = hits.map((message, i) => ({ at: i === 0 ? 0 : (at += Math.round(timing.stepMs * (0.5 + rand()))), message }));
  if (identity === 'late') {
    const last = steps[steps.length - 1]?.at ?? 0;
    steps.push({ at: last + timing.lateIdentifyMs, message: { anonymousId, messageId: randomUUID(), type: 'identify', userId: customer.id, traits: customer.email === undefined ? {} : { email: customer.email } } });
  }
  return { kind, identity, steps };
}

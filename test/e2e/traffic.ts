// The fault suite's workload, generated deterministically from a seed: exactly `totalHits`
// Segment messages from visitors of the demo shop, each visit whole in one /v1/batch request (so
// no fault can split a visit across the 2 s inactivity), and what the shop must send for them.
// Known visitors each have their own generated profile (no fatigue between visitors): cart,
// browse and search abandoners get an email and an SMS (unless opted out), buyers nothing;
// anonymous visitors (most of the traffic: page views, buyers, a few abandoners) get nothing.
import type { Product } from './shop-setup.js';

export type Kind = 'cart' | 'browse' | 'search' | 'buy' | 'bounce';
export type Channel = 'email' | 'sms';
export const triggerOf: Record<'cart' | 'browse' | 'search', string> = { cart: 'cart-abandonment', browse: 'browse-abandonment', search: 'search-abandonment' };

export interface GeneratedProfile {
  id: string;
  email: string;
  phone: string;
  firstName: string;
  locale: string;
  emailOptOut?: boolean;
  smsOptOut?: boolean;
}

export interface Traffic {
  /** Requests bodies' message lists, in sending order. */
  batches: Array<Array<Record<string, unknown>>>;
  profiles: GeneratedProfile[];
  /** `visitor trigger channel` of every message the shop must send. */
  expected: Set<string>;
  /** Profile email / phone digits → visitor id. */
  visitorOfAddress: Map<string, string>;
  hits: number;
  visitors: number;
}

/** mulberry32: a small seeded PRNG, the same sequence on every machine. */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const knownKinds: Kind[] = ['cart', 'cart', 'cart', 'browse', 'browse', 'search', 'buy', 'buy'];

export function generateTraffic(seed: number, totalHits: number, catalog: readonly Product[], knownShare = 0.08): Traffic {
  const rand = seeded(seed);
  const pick = <T>(list: readonly T[]): T => list[Math.floor(rand() * list.length)] as T;
  const traffic: Traffic = { batches: [], profiles: [], expected: new Set(), visitorOfAddress: new Map(), hits: 0, visitors: 0 };
  let batch: Array<Record<string, unknown>> = [];
  while (traffic.hits < totalHits) {
    const visitorId = `fv-${seed}-${traffic.visitors++}`;
    const remaining = totalHits - traffic.hits;
    // The last visitor only views pages, exactly as many as are left (a longest visit has 10 messages).
    const last = remaining <= 10;
    const known = !last && rand() < knownShare;
    const kind: Kind = last ? 'bounce' : known ? pick(knownKinds) : rand() < 0.04 ? pick<Kind>(['cart', 'browse', 'search']) : rand() < 0.7 ? 'bounce' : 'buy';
    let profile: GeneratedProfile | undefined;
    if (known) profile = newProfile(traffic, rand, visitorId);
    const byEmail = profile !== undefined && rand() < 0.3;
    const ids = { anonymousId: visitorId, ...(profile !== undefined && !byEmail ? { userId: profile.id } : {}) };
    const messages: Array<Record<string, unknown>> = last ? Array.from({ length: remaining }, (_, i) => ({ type: 'page', anonymousId: visitorId, name: `/last/${i}` })) : visitMessages(kind, ids, rand, pick, catalog);
    if (byEmail && profile !== undefined) messages.unshift({ type: 'identify', ...ids, traits: { email: profile.email } });
    messages.forEach((m, i) => (m.messageId = `${visitorId}-${i}`));
    traffic.hits += messages.length;
    if (profile !== undefined && kind !== 'buy' && kind !== 'bounce') addExpected(traffic, visitorId, kind, profile);
    if (batch.length + messages.length > 100) {
      traffic.batches.push(batch);
      batch = [];
    }
    batch.push(...messages);
  }
  if (batch.length > 0) traffic.batches.push(batch);
  return traffic;
}

function newProfile(traffic: Traffic, rand: () => number, visitorId: string): GeneratedProfile {
  const n = traffic.profiles.length + 1;
  const french = rand() < 0.25;
  const profile: GeneratedProfile = {
    id: `fp-${n}`,
    email: `shopper.${n}@example.com`,
    phone: `+1555${String(n).padStart(7, '0')}`,
    firstName: french ? 'Camille' : 'Alex',
    locale: french ? 'fr-FR' : 'en-GB',
    ...(rand() < 0.05 ? { emailOptOut: true } : {}),
    ...(rand() < 0.05 ? { smsOptOut: true } : {}),
  };
  traffic.profiles.push(profile);
  traffic.visitorOfAddress.set(profile.email, visitorId);
  traffic.visitorOfAddress.set(profile.phone.slice(1), visitorId);
  return profile;
}

function addExpected(traffic: Traffic, visitorId: string, kind: 'cart' | 'browse' | 'search', profile: GeneratedProfile): void {
  if (!profile.emailOptOut) traffic.expected.add(`${visitorId} ${triggerOf[kind]} email`);
  if (!profile.smsOptOut) traffic.expected.add(`${visitorId} ${triggerOf[kind]} sms`);
}

type Ids = { anonymousId: string; userId?: string };

function visitMessages(kind: Kind, ids: Ids, rand: () => number, pick: <T>(list: readonly T[]) => T, catalog: readonly Product[]): Array<Record<string, unknown>> {
  const pageView = (path: string) => ({ type: 'page', ...ids, name: path, context: { page: { url: `https://shop.example.com${path}` } } });
  const track = (event: string, properties: Record<string, unknown>) => ({ type: 'track', ...ids, event, properties });
  const products = Array.from({ length: 1 + Math.floor(rand() * 3) }, () => pick(catalog));
  const views = products.map((p) => track('Product Viewed', { product_id: p.sku, price: p.price, category: p.category }));
  const adds = products.slice(0, 1 + Math.floor(rand() * products.length)).map((p) => track('Product Added', { product_id: p.sku, price: p.price, quantity: 1 }));
  switch (kind) {
    case 'bounce':
      return Array.from({ length: 1 + Math.floor(rand() * 4) }, (_, i) => pageView(i === 0 ? '/' : `/c/${i}`));
    case 'browse':
      return [pageView('/'), ...views];
    case 'search':
      return [pageView('/'), track('Products Searched', { query: pick(['linen shirt', 'wool coat', 'trail shoes', 'leather bag']) })];
    case 'cart':
      return [pageView('/'), ...views, ...adds, track('Cart Viewed', {})];
    case 'buy':
      return [pageView('/'), ...views, ...adds, track('Checkout Started', {}), track('Order Completed', { order_id: `o-${ids.anonymousId}`, revenue: 10 })];
  }
}

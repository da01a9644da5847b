// The shop of the end-to-end and scale-out scenarios: the Rebound definitions (source, a cart
// abandonment trigger, the cart email template and its event), the profiles the shoppers sign in
// as and the catalog, written through the same stores `rebound apply` and `rebound import` use;
// and the same data in the plain key layout of the BullMQ baseline (bench/baselines/bullmq-*).
import type { Redis } from 'ioredis';
import type { RedisPort } from '../../src/core/redis/client.js';
import type { Keys } from '../../src/core/redis/keys.js';
import { putEvent } from '../../src/model/event-store.js';
import { publishEvent, publishTemplate } from '../../src/model/lifecycle.js';
import { parseProfile, type Profile } from '../../src/model/profile.js';
import { indexedValues, indexKey, ProfileStore } from '../../src/model/profile-store.js';
import { upsertRows } from '../../src/model/resource-store.js';
import { putSource } from '../../src/model/source-store.js';
import { putTemplate } from '../../src/model/template-store.js';
import { putTrigger } from '../../src/model/trigger-store.js';
import { productPrice, sku } from './e2e-shoppers.js';

export const WRITE_KEY = 'wk_bench_e2e_0123456789';
export const SOURCE_ID = 'shop-web';
export const TRIGGER_ID = 'cart-abandonment';
export const EVENT_ID = 'EVTcartEmail';
const CHUNK = 5000;

/** The cart email, as the event renders it; the BullMQ baseline renders the same text. */
export const cartTemplate = {
  from: 'Shop <shop@example.com>',
  subject: "{{default profile.firstName 'Hello'}}, your cart is waiting",
  html: `<h1>{{default profile.firstName "Hello"}}, you left something behind</h1>
{{#listing cart max=3}}<p><img src="{{image}}"> {{name}}: {{money price "EUR" profile.locale}} × {{quantity}}</p>{{else}}<p>Your cart is empty</p>{{/listing}}
<a href="https://shop.example.com/cart?v={{url ctx.visitorId}}">Back to your cart</a> <a href="{{links.unsubscribe}}">Unsubscribe</a>`,
};

const firstNames = ['Ada', 'Amélie', 'Jonas', 'Mei', 'Omar', 'Lucía', 'Kofi', 'Ines'];
const lastNames = ['Lovelace', 'Martin', 'Schmidt', 'Chen', 'Haddad', 'García', 'Mensah', 'Rossi'];
const locales = ['en-GB', 'fr-FR', 'de-DE', 'es-ES'];

export function profileOf(i: number): Record<string, unknown> {
  return {
    id: `cust-${i}`,
    email: `customer${i}@example.com`,
    firstName: firstNames[i % firstNames.length],
    lastName: lastNames[i % lastNames.length],
    locale: locales[i % locales.length],
    timezone: 'Europe/Paris',
  };
}

export function productOf(i: number): Record<string, unknown> {
  return { sku: sku(i), name: `Product ${i}`, image: `https://cdn.example.com/p/${i}.jpg`, price: productPrice(i), category: `cat-${i % 50}` };
}

/** Source, trigger (inactivity as given), template and event, all published. */
export async function defineShop(redis: RedisPort, keys: Keys, inactivity: string): Promise<void> {
  await putSource(redis, keys, { kind: 'Source', id: SOURCE_ID, name: 'Shop (bench)', writeKeys: [WRITE_KEY] });
  await putTrigger(redis, keys, {
    kind: 'Trigger', id: TRIGGER_ID, name: 'Cart abandonment', source: SOURCE_ID, type: 'abandonment',
    include: { match: 'all', containers: [[{ metric: 'scAdd', op: 'exists' }]] },
    exclude: { match: 'any', containers: [[{ metric: 'scCheckout', op: 'exists' }], [{ metric: 'purchase', op: 'exists' }]] },
    inactivity, metadata: ['pageName', 'products'],
  });
  await putTemplate(redis, keys, { kind: 'Template', id: 'cart-email', channel: 'email', ...cartTemplate });
  await publishTemplate(redis, keys, 'cart-email');
  await putEvent(redis, keys, {
    kind: 'Event', id: EVENT_ID, trigger: TRIGGER_ID, channel: 'email', targeting: 'profile',
    reconciliation: [{ alias: 'userId', profileField: 'id' }],
    enrichment: [{ name: 'cart', resource: 'catalog', join: { sku: 'ctx.products[].sku' } }],
    validity: '2d', template: 'cart-email',
  });
  await publishEvent(redis, keys, EVENT_ID);
}

/**
 * Profiles, then the catalog through upsertRows. On a single Redis (`raw` given) the profiles are
 * written as ProfileStore writes them (JSON string, index sets) in raw pipelines, much faster than
 * upsert's read-before-write; on a cluster through ProfileStore.upsert itself.
 */
export async function loadShopData(redis: RedisPort, keys: Keys, indexedFields: readonly string[], profiles: number, products: number, progress: (text: string) => void, raw?: Redis): Promise<void> {
  const store = new ProfileStore(redis, keys, indexedFields);
  for (let start = 0; start < profiles; start += CHUNK) {
    const end = Math.min(profiles, start + CHUNK);
    const batch = Array.from({ length: end - start }, (_, j) => parseProfile(profileOf(start + j)));
    if (raw === undefined) await store.upsert(batch);
    else await writeProfiles(raw, keys, indexedFields, batch);
    progress(`loading profiles ${end}/${profiles}`);
  }
  for (let start = 0; start < products; start += CHUNK) {
    const end = Math.min(products, start + CHUNK);
    await upsertRows(redis, keys, 'catalog', Array.from({ length: end - start }, (_, j) => ({ key: sku(start + j), row: productOf(start + j) })));
  }
}

async function writeProfiles(raw: Redis, keys: Keys, indexedFields: readonly string[], profiles: readonly Profile[]): Promise<void> {
  const pipeline = raw.pipeline();
  for (const profile of profiles) {
    pipeline.set(keys.profile(profile.id), JSON.stringify(profile));
    for (const v of indexedValues(profile, indexedFields)) {
      pipeline.sadd(indexKey(keys, v.field, v.value, false), profile.id);
      pipeline.sadd(indexKey(keys, v.field, v.hash, true), profile.id);
    }
  }
  await pipeline.exec();
}

/** The BullMQ baseline's queue of delayed cart jobs. */
export const bullmqQueue = 'cart-abandonment';

/** The BullMQ baseline's keys: what a team would use for its own profile and product cache. */
export const plainKeys = {
  profile: (id: string): string => `shop:profile:${id}`,
  product: (code: string): string => `shop:product:${code}`,
  cart: (visitorId: string): string => `shop:cart:${visitorId}`,
};

/** The same profiles and catalog as plain JSON strings (MSET in chunks). */
export async function loadPlainShopData(redis: Redis, profiles: number, products: number, progress: (text: string) => void): Promise<void> {
  for (let start = 0; start < profiles; start += CHUNK) {
    const end = Math.min(profiles, start + CHUNK);
    const args: string[] = [];
    for (let i = start; i < end; i++) args.push(plainKeys.profile(`cust-${i}`), JSON.stringify(profileOf(i)));
    await redis.mset(...args);
    progress(`loading profiles ${end}/${profiles}`);
  }
  const args: string[] = [];
  for (let i = 0; i < products; i++) args.push(plainKeys.product(sku(i)), JSON.stringify(productOf(i)));
  await redis.mset(...args);
}

// Harness for the campaign stage tests: the campaign role started in-process on a fresh prefix
// against the real Redis (several may share one prefix, as several processes do), trigger
// messages appended to the trigger log as detect writes them, and what a user looks at read back:
// the outbox streams and the message records.
import { bootstrap, type Runtime } from '../../src/core/bootstrap.js';
import type { Clock } from '../../src/core/clock.js';
import { decode } from '../../src/core/codec.js';
import { parseConfig } from '../../src/core/config.js';
import { createLogger } from '../../src/core/log.js';
import { putEvent } from '../../src/model/event-store.js';
import { publishEvent, publishTemplate } from '../../src/model/lifecycle.js';
import { parseMessageRecord, type MessageRecord, type OutboxMessage } from '../../src/model/message.js';
import { parseProfile } from '../../src/model/profile.js';
import { ProfileStore } from '../../src/model/profile-store.js';
import { upsertRows } from '../../src/model/resource-store.js';
import { putTemplate } from '../../src/model/template-store.js';
import { encodeFiredRecord, type FiredRecord } from '../../src/model/trigger-message.js';
import { messageIdOf } from '../../src/stages/campaign/campaign-stage.js';
import { startCampaign } from '../../src/stages/campaign/role.js';
import { newPrefix } from '../stages/pipeline-helpers.js';

/** A clock tests can move forward. */
export class MovableClock implements Clock {
  offset = 0;
  now(): number {
    return Date.now() + this.offset;
  }
}

export interface CampaignHarness {
  runtime: Runtime;
  prefix: string;
  fire(record: Partial<FiredRecord> & { visitorId: string }): Promise<FiredRecord>;
  record(eventId: string, fired: FiredRecord): Promise<MessageRecord | undefined>;
  waitForRecord(eventId: string, fired: FiredRecord, done: (record: MessageRecord) => boolean, timeoutMs?: number): Promise<MessageRecord>;
  outbox(channel: 'email' | 'sms'): Promise<OutboxMessage[]>;
  profiles: ProfileStore;
  putProfiles(...raw: object[]): Promise<void>;
  close(): Promise<void>;
}

let visitors = 0;
export const newVisitor = (): string => `v-${process.pid}-${++visitors}`;

export function firedRecord(fields: Partial<FiredRecord> & { visitorId: string }): FiredRecord {
  const now = Date.now();
  return {
    triggerId: 'tid-cart',
    triggerName: 'cart-abandonment',
    version: 1,
    source: 'shop-web',
    firedAt: now,
    firstHitTs: now - 60_000,
    lastHitTs: now - 30_000,
    path: [{ container: 0, ts: now - 30_000 }],
    metadata: {},
    cart: [],
    aliases: {},
    type: 'abandonment',
    ...fields,
  };
}

export interface HarnessOptions {
  prefix?: string;
  instance?: string;
  clock?: Clock;
  /** Called with the runtime before the campaign role starts (definitions, other roles). */
  before?: (runtime: Runtime) => Promise<void>;
}

/** A Redis URL, or the target of a conformance suite (`{url}` or `{cluster: seeds}`). */
export async function startCampaignHarness(redisTarget: string | { url?: string; cluster?: string[] }, options: HarnessOptions = {}): Promise<CampaignHarness> {
  const prefix = options.prefix ?? newPrefix();
  const config = parseConfig({
    prefix,
    ...(options.instance ? { instance: options.instance } : {}),
    partitions: 4,
    redis: typeof redisTarget === 'string' ? { url: redisTarget } : redisTarget,
    log: { level: 'silent' },
    stages: { idlePoll: '10ms', claimIdle: '5s' },
    detect: { settle: '200ms', timerTick: '50ms', definitionsPoll: '200ms' },
    campaign: { definitionsPoll: '100ms' },
    ingest: { host: '127.0.0.1', port: 0 },
  });
  const runtime = await bootstrap(config, createLogger('silent'));
  const { redis, keys } = runtime;
  await options.before?.(runtime);
  await startCampaign(runtime, options.clock ? { clock: options.clock } : {});
  const profiles = new ProfileStore(redis, keys, config.campaign.indexedFields);
  const recordOf = async (eventId: string, fired: FiredRecord) =>
    parseMessageRecord(await redis.hgetall(keys.message(keys.partitionOf(fired.visitorId), messageIdOf(eventId, fired))));
  return {
    runtime,
    prefix,
    async fire(fields) {
      const record = firedRecord(fields);
      await redis.xadd(keys.stream(keys.partitionOf(record.visitorId), 'fired'), encodeFiredRecord(record));
      return record;
    },
    record: recordOf,
    async waitForRecord(eventId, fired, done, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const record = await recordOf(eventId, fired);
        if (record !== undefined && done(record)) return record;
        if (Date.now() > deadline) throw new Error(`message of ${eventId} for ${fired.visitorId}: ${record === undefined ? 'no record' : `status ${record.status} ${record.reason ?? ''}`} after ${timeoutMs} ms`);
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
    },
    async outbox(channel) {
      const all: OutboxMessage[] = [];
      for (const p of keys.allPartitions()) {
        for (const entry of await redis.xrange(keys.stream(p, `out:${channel}`))) all.push(decode<OutboxMessage>(entry.data as Buffer));
      }
      return all;
    },
    profiles,
    async putProfiles(...raw) {
      await profiles.upsert(raw.map((p) => parseProfile(p)));
    },
    close: async () => void (await runtime.lifecycle.shutdown(5000)),
  };
}

/** Settled: the record left pending/paused/processing is final, or reached the outbox. */
export const decided = (record: MessageRecord): boolean => record.status !== 'pending' && record.status !== 'paused';

const cartHtml = `<h1>{{default profile.firstName "Hello"}}, you left something behind</h1>
{{#listing cart max=3}}<p><img src="{{image}}"> {{name}}: {{money price "EUR" "fr-FR"}} × {{quantity}}</p>{{else}}<p>Your cart is empty</p>{{/listing}}
<a href="https://shop.example.com/cart?v={{url ctx.visitorId}}">Back to your cart</a> <a href="{{links.unsubscribe}}">Unsubscribe</a>`;

/** The demo shop's cart abandonment email (profile-based, catalog enrichment), published. */
export async function defineShop(runtime: Pick<Runtime, 'redis' | 'keys'>, extra: { event?: Record<string, unknown>; template?: Record<string, unknown> } = {}): Promise<void> {
  const { redis, keys } = runtime;
  await putTemplate(redis, keys, {
    kind: 'Template',
    id: 'cart-email',
    channel: 'email',
    from: 'Shop <shop@example.com>',
    subject: "{{default profile.firstName 'Hello'}}, your cart is waiting",
    html: cartHtml,
    languages: { fr: { subject: '{{default profile.firstName "Bonjour"}}, votre panier vous attend' } },
    ...extra.template,
  });
  await publishTemplate(redis, keys, 'cart-email');
  await putEvent(redis, keys, {
    kind: 'Event',
    id: 'EVTcartEmail',
    trigger: 'cart-abandonment',
    channel: 'email',
    targeting: 'profile',
    reconciliation: [{ alias: 'userId', profileField: 'id' }, { alias: 'email', profileField: 'email' }, { visitorLink: true }],
    enrichment: [{ name: 'cart', resource: 'catalog', join: { sku: 'ctx.products[].sku' } }],
    validity: '2d',
    template: 'cart-email',
    ...extra.event,
  });
  await publishEvent(redis, keys, String(extra.event?.id ?? 'EVTcartEmail'));
  await upsertRows(redis, keys, 'catalog', [
    { key: 'SKU-1', row: { sku: 'SKU-1', name: 'Trail shoes', price: 89.9, image: 'https://cdn.example.com/sku-1.png' } },
    { key: 'SKU-2', row: { sku: 'SKU-2', name: 'Socks', price: 12.5, image: 'https://cdn.example.com/sku-2.png' } },
  ]);
}


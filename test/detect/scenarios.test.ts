// Adobe's documented trigger use cases, end to end through the detect role on a real Redis with
// 1-second inactivity: what fires, when, once per visit, and what the trigger message carries.
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { toAdobeMessage } from '../../src/model/trigger-message.js';
import { waitFor } from '../support/processes.js';
import { encodeHits, type Hit } from '../../src/model/hit.js';
import { decode } from '../../src/core/codec.js';
import { detectGroup } from '../../src/stages/detect/detect-stage.js';
import { versionPrefix } from '../../src/stages/detect/visitor-state.js';
import { hit, sleep, startTestDetect, type TestDetect } from './detect-helpers.js';

const cartAbandonment = {
  kind: 'Trigger', id: 'cart-abandonment', name: 'Cart abandonment', source: 'shop-web', type: 'abandonment',
  include: { match: 'all', containers: [[{ metric: 'scAdd', op: 'exists' }]] },
  exclude: { match: 'any', containers: [[{ metric: 'scCheckout', op: 'exists' }], [{ metric: 'purchase', op: 'exists' }]] },
  inactivity: '1s', metadata: ['pageName', 'products'],
};
const browseAbandonment = {
  kind: 'Trigger', id: 'browse-abandonment', name: 'Browse abandonment', source: 'shop-web', type: 'abandonment',
  include: { match: 'all', containers: [[{ dimension: 'pageName', op: 'contains', value: 'Deals' }]] },
  exclude: { match: 'any', containers: [[{ metric: 'purchase', op: 'exists' }]] },
  inactivity: '1s', metadata: ['pageName'],
};
const searchAbandonment = {
  kind: 'Trigger', id: 'search-abandonment', name: 'Search abandonment', source: 'shop-web', type: 'abandonment',
  include: { match: 'all', containers: [[{ metric: 'search', op: 'exists' }]] },
  exclude: { match: 'any', containers: [[{ metric: 'purchase', op: 'exists' }]] },
  inactivity: '1s', metadata: ['eVar3'],
};
const newsletter = {
  kind: 'Trigger', id: 'newsletter-signup', name: 'Newsletter sign-up', source: 'shop-web', type: 'action',
  include: { match: 'all', containers: [[{ metric: 'event7', op: 'exists' }]] }, metadata: [],
};
const landing = {
  kind: 'Trigger', id: 'campaign-landing', name: 'Visit starting on a campaign page', source: 'shop-web', type: 'sessionStart',
  include: { match: 'all', containers: [[{ dimension: 'pageName', op: 'startsWith', value: 'promo' }]] }, metadata: ['pageName'],
};
const leftAfterViews = {
  kind: 'Trigger', id: 'left-after-views', name: 'Visit ended after 2+ product views', source: 'shop-web', type: 'sessionEnd',
  include: { match: 'all', containers: [[{ metric: 'prodView', op: 'gte', value: 2, scope: 'visit' }]] }, metadata: [],
};

let t: TestDetect;
beforeAll(async () => {
  t = await startTestDetect(inject('redisUrl'), [cartAbandonment, browseAbandonment, searchAbandonment, newsletter, landing, leftAfterViews]);
});
afterAll(() => t.close());

const firedFor = async (visitorId: string, trigger?: string) => (await t.fired()).filter((r) => r.visitorId === visitorId && (trigger === undefined || r.triggerName === trigger));

describe('abandonment', () => {
  it('fires cart abandonment once, after the inactivity window, with the cart, metadata and aliases', async () => {
    const started = Date.now();
    await t.send(
      { visitorId: 'cart-1', type: 'page', pageName: 'product:boots', events: ['prodView'], aliases: { userId: 'u-42' } },
      { visitorId: 'cart-1', pageName: 'cart', events: ['scAdd'], products: [{ sku: 'SKU-1', quantity: 2, price: 19.9, name: 'Boots' }] },
      { visitorId: 'cart-1', pageName: 'cart', events: ['scAdd'], products: [{ sku: 'SKU-2', price: 5 }] },
      { visitorId: 'cart-1', pageName: 'cart', events: ['scRemove'], products: [{ sku: 'SKU-2' }] },
    );
    await waitFor('the cart abandonment', async () => (await firedFor('cart-1', 'cart-abandonment')).length > 0, 10_000);
    const [record] = await firedFor('cart-1', 'cart-abandonment');
    expect(record!.firedAt - started).toBeGreaterThanOrEqual(1000);
    expect(record!.cart).toEqual([{ sku: 'SKU-1', quantity: 2, price: 19.9, name: 'Boots' }]);
    expect(record!.metadata).toEqual({ pageName: ['cart'] });
    expect(record!.aliases).toEqual({ userId: 'u-42' });
    await sleep(1500);
    expect(await firedFor('cart-1', 'cart-abandonment')).toHaveLength(1);
  });

  it('holds a due timer while a hit that arrived before its deadline waits in the stream (detect lagging)', async () => {
    await t.send({ visitorId: 'lagging-1', pageName: 'cart', events: ['scAdd'], products: [{ sku: 'SKU-3' }] });
    await sleep(300); // applied: the abandonment timer is armed for about 1 s from now
    // The checkout arrives, but the consumer that took it stalls (a detect process stuck or killed):
    // appended and delivered to that consumer in one step, it stays pending until claimIdle (5 s).
    const { keys, config } = t.runtime;
    const stream = keys.stream(keys.partitionOf('lagging-1'), 'hits');
    const raw = new Redis(config.redis.url as string);
    try {
      await raw.multi().xadd(stream, '*', 'd', encodeHits([{ ...hit('lagging-1'), events: ['scCheckout'] } as Hit])).xreadgroup('GROUP', detectGroup, 'stalled', 'COUNT', 1, 'STREAMS', stream, '>').exec();
    } finally {
      raw.disconnect();
    }
    await sleep(2500);
    expect(await firedFor('lagging-1')).toEqual([]);
    // Claimed after claimIdle and applied: the visit checked out, so the abandonment never fires.
    await waitFor('the checkout applied', async () => (await t.runtime.redis.oldestPending(stream, detectGroup)) === null, 20_000);
    await sleep(1500);
    expect(await firedFor('lagging-1')).toEqual([]);
  });

  it('never fires for a visit that checked out, even when the checkout hit came first', async () => {
    const now = Date.now();
    await t.send(
      { visitorId: 'buyer-1', events: ['scCheckout'], ts: now },
      { visitorId: 'buyer-1', events: ['scAdd'], products: [{ sku: 'SKU-9' }], ts: now - 5000 },
    );
    await sleep(2500);
    expect(await firedFor('buyer-1')).toEqual([]);
  });

  it('fires browse abandonment for a Deals page without a booking, and search abandonment with the search term', async () => {
    await t.send(
      { visitorId: 'browser-1', type: 'page', pageName: 'Summer Deals' },
      { visitorId: 'searcher-1', events: ['search'], searchTerm: 'red boots', dims: { eVar3: 'red boots' } },
      { visitorId: 'booker-1', type: 'page', pageName: 'Summer Deals' },
      { visitorId: 'booker-1', events: ['purchase'] },
    );
    await waitFor('browse and search abandonment', async () => (await firedFor('browser-1')).length > 0 && (await firedFor('searcher-1')).length > 0, 10_000);
    expect((await firedFor('browser-1')).map((r) => r.triggerName)).toEqual(['browse-abandonment']);
    const [search] = await firedFor('searcher-1', 'search-abandonment');
    expect(search!.metadata).toEqual({ eVar3: ['red boots'] });
    await sleep(500);
    expect(await firedFor('booker-1')).toEqual([]);
  });

  it('re-arms the timer on every hit: fires one inactivity window after the last hit', async () => {
    await t.send({ visitorId: 'slow-1', events: ['scAdd'], products: [{ sku: 'A' }] });
    await sleep(700);
    const last = Date.now();
    await t.send({ visitorId: 'slow-1', type: 'page', pageName: 'still here' });
    await waitFor('the abandonment', async () => (await firedFor('slow-1', 'cart-abandonment')).length > 0, 10_000);
    const [record] = await firedFor('slow-1', 'cart-abandonment');
    expect(record!.firedAt - last).toBeGreaterThanOrEqual(1000);
  });

  it('fires once per visit: a visit split by inactivity fires again, a retried hit id counts once', async () => {
    const add = { visitorId: 'twice-1', events: ['scAdd'], products: [{ sku: 'B' }] };
    await t.send({ ...add, id: 'retry-me' }, { ...add, id: 'retry-me' });
    await waitFor('the first visit', async () => (await firedFor('twice-1', 'cart-abandonment')).length === 1, 10_000);
    await sleep(1700); // longer than the source's 1.5 s visit inactivity: a new visit
    await t.send(add);
    await waitFor('the second visit', async () => (await firedFor('twice-1', 'cart-abandonment')).length === 2, 10_000);
    const record = (await firedFor('twice-1', 'cart-abandonment'))[0]!;
    expect(record.cart).toEqual([{ sku: 'B', quantity: 1 }]); // the retried scAdd counted once
  });
});

describe('action, session start and session end', () => {
  it('fires an action trigger once per visit, at the first qualifying hit', async () => {
    await t.send({ visitorId: 'signup-1', events: ['event7'] }, { visitorId: 'signup-1', events: ['event7'] });
    await waitFor('the action', async () => (await firedFor('signup-1', 'newsletter-signup')).length > 0, 10_000);
    await sleep(600);
    expect(await firedFor('signup-1', 'newsletter-signup')).toHaveLength(1);
  });

  it('an action that fired stays fired when more qualifying hits of its visit follow (the process that fired it drops its copy of the state)', async () => {
    await t.send({ visitorId: 'signup-2', events: ['event7'] });
    await waitFor('the action', async () => (await firedFor('signup-2', 'newsletter-signup')).length > 0, 10_000);
    await t.send({ visitorId: 'signup-2', events: ['event7'] }); // the same visit: well within its inactivity
    await sleep(800); // the settle delay and then some: a second fire would have come
    expect(await firedFor('signup-2', 'newsletter-signup')).toHaveLength(1);
  });

  it('fires session start only when the visit starts on a matching hit', async () => {
    const now = Date.now();
    await t.send({ visitorId: 'promo-1', type: 'page', pageName: 'promo:summer', ts: now }, { visitorId: 'promo-1', type: 'page', pageName: 'home', ts: now + 10 });
    await t.send({ visitorId: 'home-1', type: 'page', pageName: 'home', ts: now }, { visitorId: 'home-1', type: 'page', pageName: 'promo:summer', ts: now + 10 });
    await waitFor('the session start', async () => (await firedFor('promo-1', 'campaign-landing')).length > 0, 10_000);
    await sleep(500);
    expect(await firedFor('home-1', 'campaign-landing')).toEqual([]);
  });

  it('fires session end when the visit ends, if the visit counted 2 product views', async () => {
    await t.send({ visitorId: 'viewer-1', events: ['prodView'] }, { visitorId: 'viewer-1', events: ['prodView'] });
    await t.send({ visitorId: 'viewer-2', events: ['prodView'] });
    await waitFor('the session end', async () => (await firedFor('viewer-1', 'left-after-views')).length > 0, 10_000);
    await sleep(500);
    expect(await firedFor('viewer-2', 'left-after-views')).toEqual([]);
  });
});

describe('visitor state', () => {
  it('expires no sooner than detect.visitorTtl (7 days) after the visitor\'s last hit: each visit sets visitorTtl + its longest duration', async () => {
    const { redis, keys, config } = t.runtime;
    const longestVisit = 12 * 3_600_000; // the source's visit maxDuration (SPEC §4 default)
    const key = keys.visitor(keys.partitionOf('ttl-1'), 'ttl-1');
    await t.send({ visitorId: 'ttl-1', type: 'page', pageName: 'home' });
    await waitFor('the visitor state', async () => (await redis.hget(key, 'vn')) !== null, 10_000);
    const client = new Redis(inject('redisUrl'));
    try {
      const first = await client.pttl(key);
      expect(first).toBeGreaterThan(config.detect.visitorTtl + longestVisit - 60_000);
      expect(first).toBeLessThanOrEqual(config.detect.visitorTtl + longestVisit);
      await client.pexpire(key, 60_000);
      await sleep(1700); // longer than the source's 1.5 s visit inactivity: the next hit starts a new visit
      await t.send({ visitorId: 'ttl-1', type: 'page', pageName: 'cart' });
      await waitFor('the second visit', async () => (await redis.hget(key, 'vn')) === '2', 10_000);
      expect(await client.pttl(key)).toBeGreaterThan(config.detect.visitorTtl + longestVisit - 60_000);
    } finally {
      client.disconnect();
    }
  });

  it('a state stored before its version moved into it (the field v) still fires, and is written back with the version first', async () => {
    const { redis, keys } = t.runtime;
    const key = keys.visitor(keys.partitionOf('legacy-1'), 'legacy-1');
    await t.send({ visitorId: 'legacy-1', pageName: 'cart', events: ['scAdd'], products: [{ sku: 'SKU-L' }] });
    await waitFor('the visitor state', async () => (await redis.hget(key, 'vn')) !== null, 10_000);
    const client = new Redis(inject('redisUrl'));
    try {
      // As an earlier release stored it: the state alone in s, its version in v.
      const written = (await client.hgetBuffer(key, 's')) as Buffer;
      const prefix = versionPrefix(written)!;
      await client.hset(key, 's', written.subarray(prefix.at), 'v', String(prefix.version));
      await waitFor('the cart abandonment', async () => (await firedFor('legacy-1', 'cart-abandonment')).length > 0, 10_000);
      expect((await firedFor('legacy-1'))[0]!.cart).toEqual([{ sku: 'SKU-L', quantity: 1 }]);
      expect(await client.hexists(key, 'v')).toBe(0);
      const fired = (await client.hgetBuffer(key, 's')) as Buffer;
      expect(versionPrefix(fired)?.version).toBe(prefix.version + 1);
      expect(decode<unknown[]>(fired.subarray(versionPrefix(fired)!.at))[0]).toBe(1); // the visit number, first in the state
    } finally {
      client.disconnect();
    }
  });
});

describe('bots', () => {
  it('a visitor over the bot rule fires nothing', async () => {
    const bot = await startTestDetect(inject('redisUrl'), [cartAbandonment], { inactivity: '1500ms', botRule: { hits: 5, within: '10s' } });
    try {
      for (let i = 0; i < 8; i++) await bot.send({ visitorId: 'bot-1', events: ['scAdd'], products: [{ sku: `S${i}` }] });
      await bot.send({ visitorId: 'human-1', events: ['scAdd'], products: [{ sku: 'S' }] });
      await waitFor('the human', async () => (await bot.fired()).some((r) => r.visitorId === 'human-1'), 10_000);
      await sleep(300);
      expect((await bot.fired()).filter((r) => r.visitorId === 'bot-1')).toEqual([]);
    } finally {
      await bot.close();
    }
  });
});

describe('trigger message', () => {
  it('is shown in the Adobe pipeline shape', async () => {
    const [record] = await firedFor('cart-1', 'cart-abandonment');
    const message = toAdobeMessage(record!, { partition: record!.partition, offset: record!.offset, imsOrg: 'rebound@AdobeOrg' });
    expect(message).toMatchObject({
      event_id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      event: {
        envelopeType: 'DATA', topic: 'triggers', partition: record!.partition, offset: record!.offset,
        'com.adobe.mcloud.pipeline.pipelineMessage': {
          header: { messageType: 'TRIGGER', source: 'triggers', imsOrg: 'rebound@AdobeOrg', properties: expect.arrayContaining([{ name: 'triggerFiredTimestamp', value: String(record!.firedAt) }]) },
          'com.adobe.mcloud.protocol.trigger': {
            triggerId: record!.triggerId, triggerName: 'cart-abandonment', mcId: 'cart-1', aliases: { userId: 'u-42' },
            enrichments: { analyticsHitSummary: { dimensions: { pageName: { type: 'string', data: ['cart'], name: 'pageName', source: 'session summary' } }, products: { items: [{ sku: 'SKU-1', quantity: 2, price: 19.9, name: 'Boots' }] } } },
            triggerPath: [{ stateId: 'include:0', transition: 'hit', timestamp: expect.any(Number) }, { stateId: 'notify', transition: 'inactive_timeout', timestamp: record!.firedAt }],
          },
        },
      },
    });
    expect(toAdobeMessage(record!, { partition: record!.partition, offset: record!.offset, imsOrg: 'x' }).event_id).toBe(message.event_id);
  });
});

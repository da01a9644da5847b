// Reports of the admin API (SPEC §8) after a known workload on a running shop: hits go to the
// real detect role, its timer task fires the abandoned carts at three moments days apart (the
// clock moved, as a day of traffic would), the campaign and deliver roles decide and send. The
// trigger report counts the fires per hour and each outcome with its reasons; the event's
// records come newest first with a status filter; a profile's history says what it was sent.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createLogger } from '../../src/core/log.js';
import { encodeHits, type Hit } from '../../src/model/hit.js';
import { putSource } from '../../src/model/source-store.js';
import { putTrigger } from '../../src/model/trigger-store.js';
import { loadDetectDefinitions } from '../../src/stages/detect/definitions.js';
import { startDetect } from '../../src/stages/detect/role.js';
import { TimerTask } from '../../src/stages/detect/timers.js';
import { VisitorCache } from '../../src/stages/detect/visitor-cache.js';
import { MovableClock } from '../campaign/campaign-harness.js';
import { targets } from '../stages/pipeline-helpers.js';
import { waitFor } from '../support/processes.js';
import { startShopStack, type ShopStack } from './shop-stack.js';

const hour = 3_600_000;
/** When the timer task runs for each wave of abandoned carts: 1 h, 1 day and 4 days after the visits. */
const waves = [hour + 120_000, 25 * hour + 120_000, 97 * hour + 120_000];
const hourOf = (ms: number): number => ms - (ms % hour);

interface Visitor {
  aliases: Record<string, string>;
}
/** Per wave, who abandons a cart: three for Ada, one opted out; Ada and an ambiguous address; a denylisted one and the ambiguous address again. */
const workload: Visitor[][] = [
  [{ aliases: { userId: 'u-ada' } }, { aliases: { userId: 'u-ada' } }, { aliases: { userId: 'u-optout' } }],
  [{ aliases: { userId: 'u-ada' } }, { aliases: { email: 'twin@example.com' } }],
  [{ aliases: { userId: 'u-denied' } }, { aliases: { email: 'twin@example.com' } }],
];

interface Item {
  id: string;
  status: string;
  reason?: string;
  partition: number;
  timestamps: { receivedAt: number };
}

describe.each(targets(inject('redisUrl'), inject('redisClusterSeeds')))('reports on $name Redis', (target) => {
  let stack: ShopStack;
  const adminClock = new MovableClock();
  let triggerId = '';
  let sent = 0;
  /** When each wave fired (the timer task's clock). */
  const firedAt: number[] = [];
  const call = (path: string, method = 'GET', token?: string | null) => stack.admin.call(method, path, undefined, token);

  async function timersWaiting(): Promise<number> {
    const { redis, keys } = stack.shop.runtime;
    let total = 0;
    for (const p of keys.allPartitions()) total += await redis.zcard(keys.timers(p));
    return total;
  }

  /** The wave's visitors add to cart and leave; once detect has armed their timers, the timer task runs `offset` later. */
  async function abandon(visitors: readonly Visitor[], offset: number): Promise<void> {
    const { redis, keys } = stack.shop.runtime;
    for (const visitor of visitors) {
      const now = Date.now();
      const visitorId = `rv-${process.pid}-${++sent}`;
      const hit: Hit = { id: `rh-${visitorId}`, source: 'shop-web', visitorId, ts: now, receivedAt: now, type: 'track', events: ['scAdd'], products: [{ sku: 'SKU-1', quantity: 1, price: 89.9 }], aliases: visitor.aliases };
      await redis.xadd(keys.stream(keys.partitionOf(visitorId), 'hits'), encodeHits([hit]));
    }
    await waitFor('detect to arm the timers', async () => (await timersWaiting()) === visitors.length, 15_000, 25);
    const definitions = await loadDetectDefinitions(redis, keys, { settleMs: 200 });
    const at = Date.now() + offset;
    firedAt.push(at);
    const clock = { now: () => at };
    const timers = new TimerTask({ redis, keys, partitions: () => keys.allPartitions(), definitions: () => definitions, clock, logger: createLogger('silent'), settings: { tickMs: 1000, batch: 500 }, cache: new VisitorCache(100) });
    expect(await timers.tick()).toBe(visitors.length);
  }

  beforeAll(async () => {
    stack = await startShopStack({
      redis: target.redis,
      admin: { clock: adminClock },
      before: async (runtime) => {
        const { redis, keys } = runtime;
        await putSource(redis, keys, { kind: 'Source', id: 'shop-web', writeKeys: ['wk_test_0123456789'] });
        triggerId = (
          await putTrigger(redis, keys, {
            kind: 'Trigger', id: 'cart-abandonment', name: 'Cart abandonment', source: 'shop-web', type: 'abandonment', inactivity: '1h',
            include: { match: 'all', containers: [[{ metric: 'scAdd', op: 'exists' }]] },
            exclude: { match: 'any', containers: [[{ metric: 'purchase', op: 'exists' }]] },
            metadata: ['products'],
          })
        ).triggerId;
        await startDetect(runtime);
      },
    });
    await stack.shop.putProfiles(
      { id: 'u-ada', email: 'ada@example.com', firstName: 'Ada' },
      { id: 'u-optout', email: 'optout@example.com', emailOptOut: true },
      { id: 'u-denied', email: 'denied@example.com', denylisted: true },
      { id: 'u-twin-1', email: 'twin@example.com' },
      { id: 'u-twin-2', email: 'twin@example.com' },
    );
    for (const [i, visitors] of workload.entries()) await abandon(visitors, waves[i]!);
    adminClock.offset = waves[2]! + 60_000;
    await waitFor('every message decided and sent', async () => {
      const event = (await call('/admin/triggers/cart-abandonment/report')).body.events?.[0];
      return event?.received === 7 && event.inProgress === 0 && event.processed === 3;
    }, 30_000, 50);
  });
  afterAll(() => stack?.close());

  it('trigger report: fired per hour over 5 days, received vs each status, the most common reasons first', async () => {
    const reply = await call('/admin/triggers/cart-abandonment/report');
    expect(reply.status, JSON.stringify(reply.body)).toBe(200);
    const { trigger, fired, events } = reply.body;
    expect(trigger).toEqual({ id: 'cart-abandonment', triggerId, name: 'Cart abandonment' });
    expect(fired.hours).toHaveLength(121);
    const counted = fired.hours.filter((h: { count: number }) => h.count > 0).map((h: { at: number; count: number }) => [h.at, h.count]);
    expect(counted).toEqual(firedAt.map((at, i) => [hourOf(at), workload[i]!.length]));
    expect(fired.total).toBe(7);
    expect(fired.hours.at(-1).at - fired.hours[0].at).toBe(120 * hour);
    expect(events).toEqual([
      {
        eventId: 'EVTcartEmail',
        received: 7,
        processed: 3,
        inProgress: 0,
        statuses: { processed: 3, ignored: 2, targetingFailed: 2 },
        reasons: [
          { status: 'targetingFailed', reason: 'ambiguous', count: 2 },
          { status: 'ignored', reason: 'denylist', count: 1 },
          { status: 'ignored', reason: 'optOut', count: 1 },
        ],
      },
    ]);
    // The same trigger by its triggerId; a narrower window; reasons cut to the top one.
    const narrow = await call(`/admin/triggers/${triggerId}/report?hours=24&top=1`);
    expect(narrow.body.fired).toMatchObject({ total: 2 });
    expect(narrow.body.fired.hours).toHaveLength(24);
    expect(narrow.body.events[0].reasons).toEqual([{ status: 'targetingFailed', reason: 'ambiguous', count: 2 }]);
  });

  it('trigger report: an hour older than 5 days has left the window', async () => {
    adminClock.offset = firedAt[0]! + 121 * hour - Date.now();
    try {
      const { fired } = (await call('/admin/triggers/cart-abandonment/report')).body;
      expect(fired.total).toBe(4);
      expect(fired.hours[0].at).toBeGreaterThan(hourOf(firedAt[0]!));
    } finally {
      adminClock.offset = waves[2]! + 60_000;
    }
  });

  it('event messages: the latest records newest first, filtered by status', async () => {
    const all = await call('/admin/events/EVTcartEmail/messages');
    expect(all.status).toBe(200);
    const items = all.body.items as Item[];
    expect(items).toHaveLength(7);
    expect(all.body).toMatchObject({ eventId: 'EVTcartEmail', scanned: 7, complete: true });
    const received = items.map((r) => r.timestamps.receivedAt);
    expect(received).toEqual([...received].sort((a, b) => b - a));
    expect(items.slice(0, 2).map((r) => r.reason).sort()).toEqual(['ambiguous', 'denylist']); // the last wave
    const ignored = (await call('/admin/events/EVTcartEmail/messages?status=ignored')).body.items as Item[];
    expect(ignored.map((r) => [r.status, r.reason])).toEqual([['ignored', 'denylist'], ['ignored', 'optOut']]);
    const processed = (await call('/admin/events/EVTcartEmail/messages?status=processed&limit=2')).body.items as Item[];
    expect(processed).toHaveLength(2);
    expect(processed.every((r) => r.status === 'processed')).toBe(true);
    const one = await call(`/admin/messages/${processed[0]!.id}`);
    expect(one.body).toMatchObject({ id: processed[0]!.id, status: 'processed', partition: processed[0]!.partition, profileId: 'u-ada', to: 'ada@example.com' });
    expect(one.body.timestamps.handedAt).toBeGreaterThan(0);
  });

  it('profile history: what a profile was sent and why not, newest first', async () => {
    const ada = await call('/admin/profiles/u-ada/messages');
    expect(ada.status).toBe(200);
    expect((ada.body.items as Item[]).map((r) => r.status)).toEqual(['processed', 'processed', 'processed']);
    const received = (ada.body.items as Item[]).map((r) => r.timestamps.receivedAt);
    expect(received).toEqual([...received].sort((a, b) => b - a));
    expect((await call('/admin/profiles/u-ada/messages?limit=1')).body.items).toHaveLength(1);
    expect((await call('/admin/profiles/u-optout/messages')).body.items).toMatchObject([{ status: 'ignored', reason: 'optOut', eventId: 'EVTcartEmail' }]);
    expect((await call('/admin/profiles/u-twin-1/messages')).body.items).toEqual([]); // ambiguous: reconciled to no one
  });

  it('answers 404 and 400 with codes', async () => {
    const expectError = async (path: string, status: number, code: string): Promise<void> => {
      const reply = await call(path);
      expect(reply.status, path).toBe(status);
      expect(reply.body.error.code, path).toBe(code);
    };
    await expectError('/admin/triggers/no-such-trigger/report', 404, 'DEFINITION_NOT_FOUND');
    await expectError('/admin/triggers/cart-abandonment/report?hours=0', 400, 'ADMIN_QUERY_INVALID');
    await expectError('/admin/triggers/cart-abandonment/report?hours=500', 400, 'ADMIN_QUERY_INVALID');
    await expectError('/admin/events/EVTnothing/messages', 404, 'DEFINITION_NOT_FOUND');
    await expectError('/admin/events/EVTcartEmail/messages?status=sent', 400, 'ADMIN_QUERY_INVALID');
    await expectError('/admin/events/EVTcartEmail/messages?limit=0', 400, 'ADMIN_QUERY_INVALID');
    await expectError('/admin/profiles/u-nobody/messages', 404, 'ADMIN_NOT_FOUND');
    await expectError('/admin/messages/no-such-message', 404, 'ADMIN_NOT_FOUND');
    await expectError('/admin/messages/x?partition=99', 400, 'ADMIN_QUERY_INVALID');
  });

  it('answers 401 without the token on every report route', async () => {
    for (const [method, path] of [
      ['GET', '/admin/triggers/cart-abandonment/report'],
      ['GET', '/admin/events/EVTcartEmail/messages'],
      ['GET', '/admin/profiles/u-ada/messages'],
      ['GET', '/admin/messages/x'],
      ['GET', '/admin/journal/consumers'],
      ['DELETE', '/admin/journal/consumers/x'],
    ] as const) {
      const reply = await call(path, method, null);
      expect(reply.status, path).toBe(401);
      expect(reply.body.error.code).toBe('ADMIN_UNAUTHORIZED');
    }
  });
});

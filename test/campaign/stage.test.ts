// The campaign stage (SPEC §6) against a real Redis: trigger messages appended to the trigger log
// as detect writes them become a rendered message in the channel's outbox, or a record saying why
// not — every status and reason of SPEC §6.7 reachable, as a user reads them back.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { pauseEvent, resumeEvent, unpublishEvent } from '../../src/model/lifecycle.js';
import { addSuppressions } from '../../src/model/suppressions.js';
import { verifyToken } from '../../src/model/message-context.js';
import { decodeFiredRecord } from '../../src/model/trigger-message.js';
import { targets } from '../stages/pipeline-helpers.js';
import { decided, defineShop, MovableClock, newVisitor, startCampaignHarness, type CampaignHarness } from './campaign-harness.js';

const redisUrl = inject('redisUrl');
const day = 24 * 3600_000;

describe.each(targets(inject('redisUrl'), inject('redisClusterSeeds')))('campaign stage on $name Redis: from trigger message to outbox', (target) => {
  let shop: CampaignHarness;
  beforeAll(async () => {
    shop = await startCampaignHarness(target.redis, { before: (runtime) => defineShop(runtime) });
    await shop.putProfiles(
      { id: 'u-ada', email: 'Ada@Example.com', firstName: 'Ada', locale: 'en-GB' },
      { id: 'u-amelie', email: 'amelie@example.fr', firstName: 'Amélie', locale: 'fr-FR' },
      { id: 'u-twin-1', email: 'twin@example.com' },
      { id: 'u-twin-2', email: 'twin@example.com' },
      { id: 'u-denied', email: 'denied@example.com', denylisted: true },
      { id: 'u-optout', email: 'optout@example.com', emailOptOut: true },
      { id: 'u-suppressed', email: 'suppressed@example.com' },
      { id: 'u-nomail', phone: '+33612345678' },
    );
    await addSuppressions(shop.runtime.redis, shop.runtime.keys, ['suppressed@example.com']);
  });
  afterAll(() => shop.close());

  it('renders a reconciled cart abandonment to the email outbox, with its record and counters', async () => {
    const fired = await shop.fire({ visitorId: newVisitor(), aliases: { userId: 'u-ada' }, cart: [{ sku: 'SKU-1', quantity: 2, price: 89.9 }] });
    const record = await shop.waitForRecord('EVTcartEmail', fired, decided);
    expect(record).toMatchObject({ status: 'processing', eventId: 'EVTcartEmail', profileId: 'u-ada', to: 'ada@example.com', channel: 'email', templateVersion: 1 });
    for (const hop of ['firedAt', 'receivedAt', 'reconciledAt', 'renderedAt'] as const) expect(record.timestamps[hop]).toBeGreaterThan(0);
    const message = (await shop.outbox('email')).find((m) => m.id === record.id);
    expect(message).toBeDefined();
    expect(message!.subject).toBe('Ada, your cart is waiting');
    expect(message!.html).toContain('<img src="https://cdn.example.com/sku-1.png"> Trail shoes: 89,90');
    expect(message!.html).toContain('× 2');
    expect(message!.headers?.['List-Unsubscribe']).toMatch(/^<http:\/\/localhost:8080\/u\/[\w-]+\.[\w-]+>$/);
    expect(message!.headers?.['List-Unsubscribe-Post']).toBe('List-Unsubscribe=One-Click');
    // The cart link is tracked (click identity); the unsubscribe link is not wrapped.
    const tracked = /href="http:\/\/localhost:8080\/c\/([\w.-]+)"/.exec(message!.html!);
    expect(tracked).not.toBeNull();
    const secret = (await shop.runtime.redis.get(shop.runtime.keys.linkSecret()))!;
    expect(verifyToken(tracked![1]!, secret)).toEqual({ u: `https://shop.example.com/cart?v=${fired.visitorId}`, p: 'u-ada' });
    const stats = await shop.runtime.redis.hgetall(shop.runtime.keys.triggerStats(shop.runtime.keys.partitionOf(fired.visitorId), 'tid-cart'));
    expect(Number(stats['EVTcartEmail|received'])).toBeGreaterThanOrEqual(1);
    // The profile's message index (what /admin/profiles/{id}/messages lists) has it: written by the commit on a single node, just after it on a cluster.
    const member = `${shop.runtime.keys.partitionOf(fired.visitorId)}|${record.id}`;
    let indexed: string[] = [];
    for (let attempt = 0; attempt < 100 && !indexed.includes(member); attempt++) {
      if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, 20));
      indexed = (await shop.runtime.redis.zrevrangeWithScores(shop.runtime.keys.profileMessages('u-ada'), 0, -1)).map((m) => m.member);
    }
    expect(indexed).toContain(member);
  });

  it('uses the profile language, and the same trigger message twice yields one message', async () => {
    const fired = await shop.fire({ visitorId: newVisitor(), aliases: { userId: 'u-amelie' }, cart: [{ sku: 'SKU-2', quantity: 1, price: 12.5 }] });
    await shop.fire(fired);
    const record = await shop.waitForRecord('EVTcartEmail', fired, decided);
    const messages = (await shop.outbox('email')).filter((m) => m.id === record.id);
    expect(messages).toHaveLength(1);
    expect(messages[0]!.subject).toBe('Amélie, votre panier vous attend');
  });

  it('records routingFailed for a trigger no event handles', async () => {
    const fired = await shop.fire({ visitorId: newVisitor(), triggerId: 'tid-browse', triggerName: 'browse-abandonment' });
    const record = await shop.waitForRecord('-', fired, decided);
    expect(record).toMatchObject({ status: 'routingFailed', reason: 'noPublishedEvent', triggerName: 'browse-abandonment' });
  });

  it.each([
    ['ambiguous', { email: 'twin@example.com' }],
    ['noProfile', { email: 'nobody@example.com' }],
    ['aliasMissing', {}],
  ])('records targetingFailed %s once the validity leaves no time to wait for an identity', async (reason, aliases) => {
    const fired = await shop.fire({ visitorId: newVisitor(), aliases, firedAt: Date.now() - 2 * day + 200 });
    const record = await shop.waitForRecord('EVTcartEmail', fired, decided);
    expect(record).toMatchObject({ status: 'targetingFailed', reason });
    expect((await shop.outbox('email')).some((m) => m.id === record.id)).toBe(false);
  });

  it.each([
    ['u-denied', 'ignored', 'denylist'],
    ['u-optout', 'ignored', 'optOut'],
    ['u-suppressed', 'ignored', 'suppressed'],
    ['u-nomail', 'targetingFailed', 'noAddress'],
  ])('excludes profile %s: %s %s', async (userId, status, reason) => {
    const fired = await shop.fire({ visitorId: newVisitor(), aliases: { userId } });
    expect(await shop.waitForRecord('EVTcartEmail', fired, decided)).toMatchObject({ status, reason });
  });

  it('records tooOld for a trigger message older than the validity', async () => {
    const fired = await shop.fire({ visitorId: newVisitor(), aliases: { userId: 'u-ada' }, firedAt: Date.now() - 3 * day });
    expect(await shop.waitForRecord('EVTcartEmail', fired, decided)).toMatchObject({ status: 'tooOld' });
  });
});

describe('campaign stage: typology, lifecycle and waiting', () => {
  it('fatigue max 1 per day: the second trigger for the profile is ignored', async () => {
    const shop = await startCampaignHarness(redisUrl, {
      before: (runtime) => defineShop(runtime, { event: { typology: { fatigue: [{ max: 1, per: '24h', channel: 'email' }] } } }),
    });
    try {
      await shop.putProfiles({ id: 'u-1', email: 'one@example.com' });
      const first = await shop.fire({ visitorId: newVisitor(), aliases: { userId: 'u-1' } });
      expect(await shop.waitForRecord('EVTcartEmail', first, decided)).toMatchObject({ status: 'processing' });
      const second = await shop.fire({ visitorId: newVisitor(), aliases: { userId: 'u-1' } });
      expect(await shop.waitForRecord('EVTcartEmail', second, decided)).toMatchObject({ status: 'ignored', reason: 'fatigue' });
    } finally {
      await shop.close();
    }
  });

  it('quiet hours: drop ignores, delay holds the message until the window ends', async () => {
    const clock = new MovableClock();
    const hhmm = (ms: number) => new Date(ms).toISOString().slice(11, 16);
    const now = Date.now();
    const window = { from: hhmm(now - 60_000), to: hhmm(now + 5 * 60_000) };
    const shop = await startCampaignHarness(redisUrl, {
      clock,
      before: async (runtime) => {
        await defineShop(runtime, { event: { typology: { quietHours: { ...window, action: 'delay' } } } });
        await defineShop(runtime, { event: { id: 'EVTcartDrop', typology: { quietHours: { ...window, action: 'drop' } } } });
      },
    });
    try {
      await shop.putProfiles({ id: 'u-q', email: 'quiet@example.com', timezone: 'UTC' });
      const fired = await shop.fire({ visitorId: newVisitor(), aliases: { userId: 'u-q' } });
      expect(await shop.waitForRecord('EVTcartDrop', fired, decided)).toMatchObject({ status: 'ignored', reason: 'quietHours' });
      const held = await shop.waitForRecord('EVTcartEmail', fired, (r) => r.status === 'pending');
      expect(held.reason).toBe('quietHours');
      clock.offset = 6 * 60_000;
      expect(await shop.waitForRecord('EVTcartEmail', fired, decided)).toMatchObject({ status: 'processing' });
      expect((await shop.outbox('email')).filter((m) => m.id === held.id)).toHaveLength(1);
    } finally {
      await shop.close();
    }
  });

  it('a paused event queues its trigger messages and processes them on resume; unpublished, it routes nothing', async () => {
    const shop = await startCampaignHarness(redisUrl, { before: (runtime) => defineShop(runtime) });
    const { redis, keys } = shop.runtime;
    try {
      await shop.putProfiles({ id: 'u-p', email: 'paused@example.com' });
      await pauseEvent(redis, keys, 'EVTcartEmail');
      await new Promise((resolve) => setTimeout(resolve, 300)); // the 100 ms definitions poll
      const fired = await shop.fire({ visitorId: newVisitor(), aliases: { userId: 'u-p' } });
      expect(await shop.waitForRecord('EVTcartEmail', fired, (r) => r.status === 'paused')).toMatchObject({ reason: 'eventPaused' });
      await resumeEvent(redis, keys, 'EVTcartEmail');
      expect(await shop.waitForRecord('EVTcartEmail', fired, decided)).toMatchObject({ status: 'processing' });
      await unpublishEvent(redis, keys, 'EVTcartEmail');
      await new Promise((resolve) => setTimeout(resolve, 300));
      const late = await shop.fire({ visitorId: newVisitor(), aliases: { userId: 'u-p' } });
      expect(await shop.waitForRecord('-', late, decided)).toMatchObject({ status: 'routingFailed' });
    } finally {
      await shop.close();
    }
  });

  it('a message queued by a paused event that outlives its validity ends tooOld', async () => {
    const shop = await startCampaignHarness(redisUrl, { before: (runtime) => defineShop(runtime) });
    try {
      await shop.putProfiles({ id: 'u-expiring', email: 'expiring@example.com' });
      await pauseEvent(shop.runtime.redis, shop.runtime.keys, 'EVTcartEmail');
      await new Promise((resolve) => setTimeout(resolve, 300)); // the 100 ms definitions poll
      const fired = await shop.fire({ visitorId: newVisitor(), aliases: { userId: 'u-expiring' }, firedAt: Date.now() - 2 * day + 1500 });
      expect(await shop.waitForRecord('EVTcartEmail', fired, (r) => r.status === 'paused')).toMatchObject({ reason: 'eventPaused' });
      expect(await shop.waitForRecord('EVTcartEmail', fired, decided)).toMatchObject({ status: 'tooOld' });
    } finally {
      await shop.close();
    }
  });

  it('a render error sends nothing: deliveryFailed, and the trigger message is dead-lettered with the error', async () => {
    const shop = await startCampaignHarness(redisUrl, {
      before: (runtime) => defineShop(runtime, { template: { html: '<p>{{money ctx.dims.total "not-a-currency"}}</p>' } }),
    });
    const { redis, keys } = shop.runtime;
    try {
      await shop.putProfiles({ id: 'u-r', email: 'render@example.com' });
      const fired = await shop.fire({ visitorId: newVisitor(), aliases: { userId: 'u-r' }, metadata: { total: [12] } });
      const record = await shop.waitForRecord('EVTcartEmail', fired, decided);
      expect(record).toMatchObject({ status: 'deliveryFailed', reason: 'renderFailed' });
      expect(record.error).toMatch(/TEMPLATE_RENDER_FAILED/);
      const dead = await redis.xrange(keys.deadLetters(keys.partitionOf(fired.visitorId), 'fired'));
      expect(dead).toHaveLength(1);
      expect(decodeFiredRecord(dead[0]!.data as Buffer).visitorId).toBe(fired.visitorId);
      expect(await shop.outbox('email')).toHaveLength(0);
    } finally {
      await shop.close();
    }
  });
});

describe('campaign stage: concurrency', () => {
  it('fatigue max 1 with two processes and 1,000 simultaneous triggers for one profile: exactly one passes', async () => {
    const first = await startCampaignHarness(redisUrl, {
      instance: 'c1',
      before: (runtime) => defineShop(runtime, { event: { typology: { fatigue: [{ max: 1, per: '24h', channel: 'all' }] } } }),
    });
    const second = await startCampaignHarness(redisUrl, { instance: 'c2', prefix: first.prefix });
    try {
      await first.putProfiles({ id: 'u-busy', email: 'busy@example.com' });
      const fired = await Promise.all(Array.from({ length: 1000 }, () => first.fire({ visitorId: newVisitor(), aliases: { userId: 'u-busy' } })));
      const records = await Promise.all(fired.map((f) => first.waitForRecord('EVTcartEmail', f, decided, 60_000)));
      const statuses = records.map((r) => `${r.status}${r.reason ? `/${r.reason}` : ''}`);
      expect(statuses.filter((s) => s === 'processing')).toHaveLength(1);
      expect(statuses.filter((s) => s === 'ignored/fatigue')).toHaveLength(999);
      expect(await first.outbox('email')).toHaveLength(1);
    } finally {
      await Promise.all([first.close(), second.close()]);
    }
  });
});

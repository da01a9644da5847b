// Campaign definitions in Redis: events, template drafts with frozen published versions and test
// profiles are stored idempotently (an identical put changes nothing, not even the definitions
// version), immutable fields are refused, channels must agree, and the campaign stage's snapshot
// routes trigger messages by trigger name or id, compiles each published version once and skips
// a bad stored record instead of failing.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { connectRedis, type RedisPort } from '../../src/core/redis/client.js';
import { Keys } from '../../src/core/redis/keys.js';
import { CompiledTemplateCache, loadCampaignDefinitions } from '../../src/model/campaign-definitions.js';
import { campaignKeys, getEvent, loadEvents, markEventSent, putEvent, eventSentField, eventStateKey } from '../../src/model/event-store.js';
import { pauseEvent, publishEvent, publishTemplate, unpublishEvent } from '../../src/model/lifecycle.js';
import { getTemplate, getTemplateVersion, listTemplateVersions, putTemplate } from '../../src/model/template-store.js';
import { deleteTestProfile, getTestProfile, loadTestProfiles, putTestProfile } from '../../src/model/test-profile.js';
import { newPrefix } from '../stages/pipeline-helpers.js';
import { amelie, browseEvent, browseTemplate, cartEvent, cartTemplate } from './definitions-fixtures.js';

let redis: RedisPort;
let keys: Keys;
const fresh = (): Keys => (keys = new Keys(newPrefix(), 4));
const definitionsVersion = async (): Promise<string | null> => redis.get(keys.definitionsVersion());

beforeAll(async () => {
  redis = await connectRedis({ url: inject('redisUrl') }, { connectTimeoutMs: 10_000, name: 'test' });
});
afterAll(async () => {
  await redis.close();
});

describe('event store', () => {
  it('creates, leaves an identical document alone, and versions a change', async () => {
    fresh();
    const created = await putEvent(redis, keys, cartEvent, 1000);
    expect(created.outcome).toBe('created');
    expect(created.event).toMatchObject({ id: 'EVTcartAbandonment', status: 'draft', everSent: false, version: 1, createdAt: 1000, updatedAt: 1000 });
    const after = await definitionsVersion();

    // Same content, `status:` aside (a lifecycle request) and durations written differently.
    const same = await putEvent(redis, keys, { ...cartEvent, validity: '48h', status: 'draft' }, 2000);
    expect(same.outcome).toBe('unchanged');
    expect(same.event.version).toBe(1);
    expect(await definitionsVersion()).toBe(after);

    const changed = await putEvent(redis, keys, { ...cartEvent, validity: '1d' }, 3000);
    expect(changed.outcome).toBe('changed');
    expect(changed.event).toMatchObject({ version: 2, createdAt: 1000, updatedAt: 3000, validityMs: 86_400_000 });
    expect(Number(await definitionsVersion())).toBe(Number(after) + 1);
    expect(await getEvent(redis, keys, 'EVTcartAbandonment')).toMatchObject({ version: 2, validityMs: 86_400_000, document: { validity: '1d' } });
  });

  it('refuses a change of channel or targeting, naming each field, and stores nothing', async () => {
    fresh();
    await putEvent(redis, keys, cartEvent);
    const before = await definitionsVersion();
    const attempt = putEvent(redis, keys, { ...cartEvent, channel: 'sms', targeting: 'event', reconciliation: [], typology: {}, recipient: { phone: 'ctx.dims.eVar9' }, enrichment: [] });
    await expect(attempt).rejects.toMatchObject({ code: 'EVENT_IMMUTABLE_FIELD', status: 409 });
    await expect(attempt).rejects.toThrow(/channel: cannot change after the event is created \(email → sms\)[\s\S]*targeting: cannot change after the event is created \(profile → event\)/);
    expect(await definitionsVersion()).toBe(before);
    expect((await getEvent(redis, keys, 'EVTcartAbandonment'))?.channel).toBe('email');
  });

  it('refuses an invalid event without storing anything', async () => {
    fresh();
    await expect(putEvent(redis, keys, { ...cartEvent, channel: 'push' })).rejects.toMatchObject({ code: 'EVENT_INVALID', status: 422 });
    expect(await definitionsVersion()).toBeNull();
    expect((await loadEvents(redis, keys)).events).toEqual([]);
  });

  it('refuses an event whose template is on the other channel, and a template whose event is', async () => {
    fresh();
    await putTemplate(redis, keys, browseTemplate);
    await expect(putEvent(redis, keys, { ...cartEvent, template: 'browse-sms' })).rejects.toMatchObject({ code: 'TEMPLATE_CHANNEL_MISMATCH', status: 409 });
    await putEvent(redis, keys, browseEvent);
    const emailDraft = { kind: 'Template', id: 'browse-sms', channel: 'email', subject: 'Hi', text: 'Hello' };
    await expect(putTemplate(redis, keys, emailDraft)).rejects.toThrow(/channel: event EVTbrowseAbandonment uses this template and sends sms/);
    expect((await getTemplate(redis, keys, 'browse-sms'))?.channel).toBe('sms');
  });

  it('marks an event as having sent once (HSETNX), outside the definitions version', async () => {
    fresh();
    await putEvent(redis, keys, cartEvent);
    const before = await definitionsVersion();
    await markEventSent(redis, keys, 'EVTcartAbandonment', 5000);
    await markEventSent(redis, keys, 'EVTcartAbandonment', 9000);
    expect(await redis.hget(eventStateKey(keys, 'EVTcartAbandonment'), eventSentField)).toBe('5000');
    expect((await getEvent(redis, keys, 'EVTcartAbandonment'))?.everSent).toBe(true);
    expect(await definitionsVersion()).toBe(before);
  });
});

describe('template store', () => {
  it('freezes the exact document on publish; changing the draft afterwards never changes version 1', async () => {
    fresh();
    await putTemplate(redis, keys, cartTemplate, 1000);
    const first = await publishTemplate(redis, keys, 'cart-abandonment-email', { now: 2000 });
    expect(first).toMatchObject({ status: 'published', version: 1, versionCreated: true });

    const edited = { ...cartTemplate, subject: 'New subject' };
    expect((await putTemplate(redis, keys, edited, 3000)).outcome).toBe('changed');
    const v1 = await getTemplateVersion(redis, keys, 'cart-abandonment-email', 1);
    expect(v1).toEqual({ id: 'cart-abandonment-email', version: 1, publishedAt: 2000, document: cartTemplate });
    expect(await getTemplate(redis, keys, 'cart-abandonment-email')).toMatchObject({ subject: 'New subject', publishedVersion: 1, status: 'published', revision: 2 });

    const second = await publishTemplate(redis, keys, 'cart-abandonment-email', { now: 4000 });
    expect(second).toMatchObject({ version: 2, versionCreated: true });
    const versions = await listTemplateVersions(redis, keys, 'cart-abandonment-email');
    expect(versions.map((v) => [v.version, v.document.subject, v.publishedAt])).toEqual([
      [1, cartTemplate.subject, 2000],
      [2, 'New subject', 4000],
    ]);
  });

  it('publishing an unchanged draft again freezes nothing and changes nothing', async () => {
    fresh();
    await putTemplate(redis, keys, cartTemplate);
    await publishTemplate(redis, keys, 'cart-abandonment-email');
    const before = await definitionsVersion();
    const again = await publishTemplate(redis, keys, 'cart-abandonment-email');
    expect(again).toMatchObject({ status: 'published', version: 1, versionCreated: false, transitions: [] });
    expect(await definitionsVersion()).toBe(before);
    expect((await putTemplate(redis, keys, { ...cartTemplate, status: 'published' })).outcome).toBe('unchanged');
  });
});

describe('test profile store', () => {
  it('puts idempotently, gets, lists and deletes', async () => {
    fresh();
    expect((await putTestProfile(redis, keys, amelie, 1000)).outcome).toBe('created');
    const before = await definitionsVersion();
    expect((await putTestProfile(redis, keys, amelie, 2000)).outcome).toBe('unchanged');
    expect(await definitionsVersion()).toBe(before);
    expect((await putTestProfile(redis, keys, { ...amelie, name: 'Amélie' }, 3000)).testProfile).toMatchObject({ name: 'Amélie', version: 2 });
    expect(await getTestProfile(redis, keys, 'tp-amelie')).toMatchObject({ addressKind: 'email', profile: { firstName: 'Amélie' } });
    await expect(putTestProfile(redis, keys, { ...amelie, address: 'nobody' })).rejects.toMatchObject({ code: 'TEST_PROFILE_INVALID' });
    expect(await deleteTestProfile(redis, keys, 'tp-amelie')).toBe(true);
    expect(await deleteTestProfile(redis, keys, 'tp-amelie')).toBe(false);
    expect((await loadTestProfiles(redis, keys)).testProfiles).toEqual([]);
  });
});

describe('loadCampaignDefinitions', () => {
  async function publishedCart(): Promise<void> {
    await putEvent(redis, keys, cartEvent);
    await putTemplate(redis, keys, cartTemplate);
    await publishEvent(redis, keys, 'EVTcartAbandonment');
    await publishTemplate(redis, keys, 'cart-abandonment-email');
  }

  it("routes a trigger message to its events by the trigger's name or by its id", async () => {
    fresh();
    await publishedCart();
    const triggerId = '6f1c1d2e-0000-4000-8000-000000000001';
    await putEvent(redis, keys, { ...cartEvent, id: 'EVTcartById', trigger: triggerId });
    await publishEvent(redis, keys, 'EVTcartById');
    const defs = await loadCampaignDefinitions(redis, keys);
    expect(defs.eventsFor({ triggerName: 'cart-abandonment', triggerId }).map((e) => e.id).sort()).toEqual(['EVTcartAbandonment', 'EVTcartById']);
    expect(defs.eventsFor({ triggerName: 'cart-abandonment', triggerId: 'other' }).map((e) => e.id)).toEqual(['EVTcartAbandonment']);
    expect(defs.eventsFor({ triggerName: 'renamed', triggerId }).map((e) => e.id)).toEqual(['EVTcartById']);
    expect(defs.eventsFor({ triggerName: 'browse-abandonment', triggerId: 'x' })).toEqual([]);

    const cart = defs.event('EVTcartAbandonment');
    expect(cart).toMatchObject({ status: 'published', eventStatus: 'published', templateStatus: 'published', templateId: 'cart-abandonment-email' });
    expect(cart?.template).toMatchObject({ id: 'cart-abandonment-email', version: 1, from: 'Shop <shop@example.com>' });
    const rendered = cart?.template?.compiled.render({ profile: { firstName: 'Ada' }, ctx: { products: [{ sku: 'SKU-1' }] } });
    expect(rendered).toMatchObject({ subject: 'Ada, your cart is waiting', html: '<p>SKU-1 </p>' });
  });

  it('sends only when event and template are both published; queues while either waits', async () => {
    fresh();
    await putEvent(redis, keys, cartEvent);
    await putTemplate(redis, keys, cartTemplate);
    const draft = await loadCampaignDefinitions(redis, keys);
    expect(draft.event('EVTcartAbandonment')).toMatchObject({ status: 'draft', template: undefined });
    expect(draft.eventsFor({ triggerName: 'cart-abandonment', triggerId: '-' })).toEqual([]);

    await publishEvent(redis, keys, 'EVTcartAbandonment');
    const templateNotYet = await loadCampaignDefinitions(redis, keys);
    expect(templateNotYet.event('EVTcartAbandonment')).toMatchObject({ status: 'paused', eventStatus: 'published', templateStatus: 'draft', template: undefined });

    await publishTemplate(redis, keys, 'cart-abandonment-email');
    expect((await loadCampaignDefinitions(redis, keys)).event('EVTcartAbandonment')?.status).toBe('published');

    await pauseEvent(redis, keys, 'EVTcartAbandonment');
    const paused = await loadCampaignDefinitions(redis, keys);
    expect(paused.event('EVTcartAbandonment')).toMatchObject({ status: 'paused', eventStatus: 'paused' });
    expect(paused.eventsFor({ triggerName: 'cart-abandonment', triggerId: '-' })).toHaveLength(1);

    await unpublishEvent(redis, keys, 'EVTcartAbandonment');
    const gone = await loadCampaignDefinitions(redis, keys);
    expect(gone.event('EVTcartAbandonment')?.status).toBe('unpublished');
    expect(gone.eventsFor({ triggerName: 'cart-abandonment', triggerId: '-' })).toEqual([]);
  });

  it('compiles a published version once: a reload reuses it, a new version is compiled', async () => {
    fresh();
    await publishedCart();
    const cache = new CompiledTemplateCache();
    const first = (await loadCampaignDefinitions(redis, keys, { cache })).event('EVTcartAbandonment')?.template;
    await putTestProfile(redis, keys, amelie); // any definitions change reloads
    const second = (await loadCampaignDefinitions(redis, keys, { cache })).event('EVTcartAbandonment')?.template;
    expect(second).toBeDefined();
    expect(second?.compiled).toBe(first?.compiled);

    await putTemplate(redis, keys, { ...cartTemplate, subject: 'v2' });
    const stillV1 = (await loadCampaignDefinitions(redis, keys, { cache })).event('EVTcartAbandonment')?.template;
    expect(stillV1?.compiled).toBe(first?.compiled);
    await publishTemplate(redis, keys, 'cart-abandonment-email');
    const v2 = (await loadCampaignDefinitions(redis, keys, { cache })).event('EVTcartAbandonment')?.template;
    expect(v2?.version).toBe(2);
    expect(v2?.compiled).not.toBe(first?.compiled);
    expect(v2?.compiled.render({ ctx: {} }).subject).toBe('v2');
  });

  it('skips and reports bad stored records instead of failing', async () => {
    fresh();
    await publishedCart();
    await putTestProfile(redis, keys, amelie);
    const k = campaignKeys(keys);
    await redis.hset(k.events, 'EVTbroken', JSON.stringify({ document: { ...cartEvent, id: 'EVTbroken', channel: 'fax' }, version: 1, createdAt: 1, updatedAt: 1 }));
    await redis.hset(k.events, 'EVTgarbage', '{not json');
    await redis.hset(k.testProfiles, 'tp-bad', JSON.stringify({ document: { kind: 'TestProfile', id: 'tp-bad' }, version: 1 }));
    await putEvent(redis, keys, { ...browseEvent });
    await putTemplate(redis, keys, browseTemplate);
    await publishEvent(redis, keys, 'EVTbrowseAbandonment');
    await publishTemplate(redis, keys, 'browse-sms');
    await redis.hset(k.templateVersions('browse-sms'), '1', JSON.stringify({ document: { ...browseTemplate, text: '{{bogus ctx.dims}}' }, publishedAt: 1 }));

    const defs = await loadCampaignDefinitions(redis, keys);
    expect(defs.events.map((e) => e.id)).toEqual(['EVTbrowseAbandonment', 'EVTcartAbandonment']);
    expect(defs.event('EVTcartAbandonment')?.status).toBe('published');
    expect(defs.event('EVTbrowseAbandonment')).toMatchObject({ eventStatus: 'published', status: 'paused', template: undefined });
    expect(defs.invalid.map((i) => `${i.kind} ${i.id}`).sort()).toEqual(['Event EVTbroken', 'Event EVTgarbage', 'Template browse-sms@1', 'TestProfile tp-bad']);
    expect(defs.invalid.find((i) => i.id === 'EVTbroken')?.error).toContain('channel: a channel is email or sms');
    expect([...defs.testProfiles.keys()]).toEqual(['tp-amelie']);
  });
});

describe('on Redis Cluster', () => {
  it('stores, publishes and loads through one slot (every definitions key carries {defs})', async () => {
    const cluster = await connectRedis({ cluster: inject('redisClusterSeeds').split(',') }, { connectTimeoutMs: 10_000, name: 'test' });
    try {
      const clusterKeys = new Keys(newPrefix(), 4);
      await putEvent(cluster, clusterKeys, cartEvent);
      await putTemplate(cluster, clusterKeys, cartTemplate);
      await publishEvent(cluster, clusterKeys, 'EVTcartAbandonment');
      expect(await publishTemplate(cluster, clusterKeys, 'cart-abandonment-email')).toMatchObject({ version: 1 });
      const defs = await loadCampaignDefinitions(cluster, clusterKeys);
      expect(defs.eventsFor({ triggerName: 'cart-abandonment', triggerId: '-' }).map((e) => [e.id, e.status, e.template?.version])).toEqual([['EVTcartAbandonment', 'published', 1]]);
    } finally {
      await cluster.close();
    }
  });
});

// The publish lifecycle (SPEC §6.1, Adobe §3.8): every transition of an event and a template,
// allowed or refused with a message saying what to do first; publishing an event creates its
// template; unpublishing a template unpublishes its events; `status:` in applied documents uses
// the same transitions; an sms template too long for its test profiles is not published.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { isReboundError } from '../../src/core/errors.js';
import { connectRedis, type RedisPort } from '../../src/core/redis/client.js';
import { Keys } from '../../src/core/redis/keys.js';
import { getEvent, markEventSent, putEvent, type LifecycleStatus } from '../../src/model/event-store.js';
import {
  applyEvent,
  applyTemplate,
  deleteEvent,
  deleteTemplate,
  pauseEvent,
  pauseTemplate,
  publishEvent,
  publishTemplate,
  resumeEvent,
  unpublishEvent,
  unpublishTemplate,
} from '../../src/model/lifecycle.js';
import { parseTemplate } from '../../src/model/template.js';
import { checkSmsSegments, getTemplate, listTemplateVersions, putTemplate } from '../../src/model/template-store.js';
import { parseTestProfile, putTestProfile } from '../../src/model/test-profile.js';
import { newPrefix } from '../stages/pipeline-helpers.js';
import { amelie, browseEvent, browseTemplate, cartEvent, cartTemplate } from './definitions-fixtures.js';

let redis: RedisPort;
let keys: Keys;
const fresh = (): Keys => (keys = new Keys(newPrefix(), 4));
const definitionsVersion = (): Promise<string | null> => redis.get(keys.definitionsVersion());
const EVT = 'EVTcartAbandonment';
const TPL = 'cart-abandonment-email';

beforeAll(async () => {
  redis = await connectRedis({ url: inject('redisUrl') }, { connectTimeoutMs: 10_000, name: 'test' });
});
afterAll(async () => {
  await redis.close();
});

/** The error an operation fails with (fails the test when it succeeds). */
async function refusal(operation: Promise<unknown>): Promise<{ code: string; status: number; message: string }> {
  try {
    await operation;
  } catch (err) {
    expect(isReboundError(err)).toBe(true);
    return err as { code: string; status: number; message: string };
  }
  throw new Error('expected the operation to be refused');
}

/** A fresh prefix with the cart event (and its template) brought to `state` through allowed transitions. */
async function eventIn(state: LifecycleStatus | 'unpublishedAfterSending'): Promise<void> {
  fresh();
  await putEvent(redis, keys, cartEvent);
  await putTemplate(redis, keys, cartTemplate);
  if (state === 'draft') return;
  await publishEvent(redis, keys, EVT);
  if (state === 'paused') await pauseEvent(redis, keys, EVT);
  if (state === 'unpublishedAfterSending') await markEventSent(redis, keys, EVT);
  if (state === 'unpublished' || state === 'unpublishedAfterSending') await unpublishEvent(redis, keys, EVT);
}

type Expected = LifecycleStatus | 'deleted' | RegExp;
const eventActions = { publish: publishEvent, pause: pauseEvent, resume: resumeEvent, unpublish: unpublishEvent, delete: deleteEvent } as const;
const eventTable: Array<[LifecycleStatus | 'unpublishedAfterSending', keyof typeof eventActions, Expected]> = [
  ['draft', 'publish', 'published'],
  ['draft', 'pause', /^event EVTcartAbandonment is a draft: only a published event can be paused$/],
  ['draft', 'resume', /^event EVTcartAbandonment is a draft: only a paused event can be resumed$/],
  ['draft', 'unpublish', /^event EVTcartAbandonment is a draft: it was never published$/],
  ['draft', 'delete', 'deleted'],
  ['published', 'publish', 'published'],
  ['published', 'pause', 'paused'],
  ['published', 'resume', 'published'],
  ['published', 'unpublish', 'unpublished'],
  ['published', 'delete', /^event EVTcartAbandonment is published: unpublish it before deleting$/],
  ['paused', 'publish', /^event EVTcartAbandonment is paused: resume it instead$/],
  ['paused', 'pause', 'paused'],
  ['paused', 'resume', 'published'],
  ['paused', 'unpublish', 'unpublished'],
  ['paused', 'delete', /^event EVTcartAbandonment is paused: unpublish it before deleting$/],
  ['unpublished', 'publish', 'published'],
  ['unpublished', 'pause', /^event EVTcartAbandonment is unpublished: only a published event can be paused$/],
  ['unpublished', 'resume', /^event EVTcartAbandonment is unpublished: only a paused event can be resumed$/],
  ['unpublished', 'unpublish', 'unpublished'],
  ['unpublished', 'delete', 'deleted'],
  ['unpublishedAfterSending', 'delete', /^event EVTcartAbandonment has sent messages: it can be unpublished, not deleted$/],
  ['unpublishedAfterSending', 'publish', 'published'],
];

describe('event lifecycle', () => {
  it.each(eventTable)('%s event, %s → %s', async (state, action, expected) => {
    await eventIn(state);
    const before = await definitionsVersion();
    const operation = eventActions[action](redis, keys, EVT);
    if (expected instanceof RegExp) {
      const error = await refusal(operation);
      expect(error).toMatchObject({ code: 'LIFECYCLE_FORBIDDEN', status: 409 });
      expect(error.message).toMatch(expected);
      expect(await definitionsVersion()).toBe(before);
      return;
    }
    await operation;
    if (expected === 'deleted') {
      expect(await getEvent(redis, keys, EVT)).toBeUndefined();
      await putEvent(redis, keys, cartEvent); // the state went with it: a new event is a draft again
      expect(await getEvent(redis, keys, EVT)).toMatchObject({ status: 'draft', everSent: false });
      return;
    }
    expect((await getEvent(redis, keys, EVT))?.status).toBe(expected);
  });

  it('a transition to the current state changes nothing', async () => {
    await eventIn('published');
    const before = await definitionsVersion();
    expect(await publishEvent(redis, keys, EVT)).toMatchObject({ status: 'published', transitions: [] });
    expect(await resumeEvent(redis, keys, EVT)).toMatchObject({ status: 'published', transitions: [] });
    expect(await definitionsVersion()).toBe(before);
  });

  it('names an unknown event', async () => {
    fresh();
    expect(await refusal(publishEvent(redis, keys, 'EVTnope'))).toMatchObject({ code: 'DEFINITION_NOT_FOUND', status: 404, message: 'event EVTnope does not exist' });
    expect(await refusal(deleteEvent(redis, keys, 'EVTnope'))).toMatchObject({ code: 'DEFINITION_NOT_FOUND' });
  });

  it("publishing creates the event's template as a draft skeleton of its channel, once", async () => {
    fresh();
    await putEvent(redis, keys, cartEvent);
    await putEvent(redis, keys, browseEvent);
    expect(await publishEvent(redis, keys, EVT)).toMatchObject({ status: 'published', createdTemplate: true });
    expect(await publishEvent(redis, keys, 'EVTbrowseAbandonment')).toMatchObject({ createdTemplate: true });
    const email = await getTemplate(redis, keys, TPL);
    expect(email).toMatchObject({ channel: 'email', status: 'draft' });
    expect(email?.publishedVersion).toBeUndefined();
    expect(email?.html).toContain('created when event EVTcartAbandonment was published');
    expect(parseTemplate(email?.document).subject).toBe('{{default profile.firstName "Hello"}}, about your visit');
    const sms = await getTemplate(redis, keys, 'browse-sms');
    expect(sms).toMatchObject({ channel: 'sms', status: 'draft' });
    expect(sms?.text).toContain('EVTbrowseAbandonment');

    await unpublishEvent(redis, keys, EVT);
    await putTemplate(redis, keys, cartTemplate);
    expect(await publishEvent(redis, keys, EVT)).toMatchObject({ createdTemplate: false });
    expect((await getTemplate(redis, keys, TPL))?.subject).toBe(cartTemplate.subject);
  });
});

describe('template lifecycle', () => {
  it('unpublishing a template unpublishes every published or paused event using it, at once', async () => {
    fresh();
    await putTemplate(redis, keys, cartTemplate);
    for (const id of ['EVTcartA', 'EVTcartB', 'EVTcartC']) await putEvent(redis, keys, { ...cartEvent, id });
    await publishEvent(redis, keys, 'EVTcartA');
    await publishEvent(redis, keys, 'EVTcartB');
    await pauseEvent(redis, keys, 'EVTcartB');
    await publishTemplate(redis, keys, TPL);
    const before = Number(await definitionsVersion());

    const result = await unpublishTemplate(redis, keys, TPL);
    expect(result.status).toBe('unpublished');
    expect(result.transitions.map((t) => `${t.kind} ${t.id} ${t.from}→${t.to}`)).toEqual([
      `template ${TPL} published→unpublished`,
      'event EVTcartA published→unpublished',
      'event EVTcartB paused→unpublished',
    ]);
    expect(Number(await definitionsVersion())).toBe(before + 1);
    expect((await getEvent(redis, keys, 'EVTcartA'))?.status).toBe('unpublished');
    expect((await getEvent(redis, keys, 'EVTcartB'))?.status).toBe('unpublished');
    expect((await getEvent(redis, keys, 'EVTcartC'))?.status).toBe('draft');
    expect(await unpublishTemplate(redis, keys, TPL)).toMatchObject({ transitions: [] });
  });

  it('refuses what the state does not allow', async () => {
    fresh();
    await putTemplate(redis, keys, cartTemplate);
    expect((await refusal(unpublishTemplate(redis, keys, TPL))).message).toBe(`template ${TPL} is a draft: it was never published`);
    expect((await refusal(pauseTemplate(redis, keys, TPL))).message).toBe(`template ${TPL} is a draft: only a published template can be paused`);
    expect(await refusal(publishTemplate(redis, keys, 'nope'))).toMatchObject({ code: 'DEFINITION_NOT_FOUND', message: 'template nope does not exist' });
  });

  it('deletes a template only when neither it nor an event using it is published or paused', async () => {
    fresh();
    await putTemplate(redis, keys, cartTemplate);
    await putEvent(redis, keys, cartEvent);
    await publishTemplate(redis, keys, TPL);
    expect(await refusal(deleteTemplate(redis, keys, TPL))).toMatchObject({ code: 'LIFECYCLE_FORBIDDEN', message: `template ${TPL} is published: unpublish it before deleting` });

    await unpublishTemplate(redis, keys, TPL);
    await publishEvent(redis, keys, EVT); // republished; its template is not: messages wait
    expect((await refusal(deleteTemplate(redis, keys, TPL))).message).toBe(`template ${TPL} is used by published event ${EVT}: unpublish the event (or point it at another template) first`);

    await unpublishEvent(redis, keys, EVT);
    await deleteTemplate(redis, keys, TPL);
    expect(await getTemplate(redis, keys, TPL)).toBeUndefined();
    expect(await listTemplateVersions(redis, keys, TPL)).toEqual([]);

    // Created again: version numbers continue, so `id@version` never names two documents.
    await putTemplate(redis, keys, { ...cartTemplate, subject: 'Again' });
    expect(await publishTemplate(redis, keys, TPL)).toMatchObject({ version: 2, versionCreated: true });
  });

  it('two concurrent publishes of the same draft freeze one version', async () => {
    fresh();
    await putTemplate(redis, keys, cartTemplate);
    const results = await Promise.all([publishTemplate(redis, keys, TPL), publishTemplate(redis, keys, TPL), publishTemplate(redis, keys, TPL)]);
    expect(results.map((r) => r.version)).toEqual([1, 1, 1]);
    expect(results.filter((r) => r.versionCreated)).toHaveLength(1);
    expect((await listTemplateVersions(redis, keys, TPL)).map((v) => v.version)).toEqual([1]);
  });
});

describe('status: in applied documents', () => {
  it('moves an event toward the status it asks for, idempotently', async () => {
    fresh();
    const created = await applyEvent(redis, keys, { ...cartEvent, status: 'published' });
    expect(created).toMatchObject({ outcome: 'created', lifecycle: { status: 'published', createdTemplate: true } });
    expect((await getEvent(redis, keys, EVT))?.status).toBe('published');
    expect((await getTemplate(redis, keys, TPL))?.status).toBe('draft');

    const before = await definitionsVersion();
    expect(await applyEvent(redis, keys, { ...cartEvent, status: 'published' })).toMatchObject({ outcome: 'unchanged', lifecycle: { transitions: [] } });
    expect(await definitionsVersion()).toBe(before);

    expect((await applyEvent(redis, keys, { ...cartEvent, status: 'paused' })).lifecycle.status).toBe('paused');
    expect((await applyEvent(redis, keys, cartEvent)).lifecycle.status).toBe('paused'); // no status: left as it is
    expect((await applyEvent(redis, keys, { ...cartEvent, status: 'published' })).lifecycle.transitions.map((t) => t.to)).toEqual(['published']);
    expect((await applyEvent(redis, keys, { ...cartEvent, status: 'draft' })).lifecycle.status).toBe('unpublished');
    expect((await applyEvent(redis, keys, { ...cartEvent, status: 'draft' })).lifecycle.transitions).toEqual([]);
  });

  it('a new event asking for paused is published then paused in one commit', async () => {
    fresh();
    const before = Number((await definitionsVersion()) ?? '0');
    const result = await applyEvent(redis, keys, { ...cartEvent, status: 'paused' });
    expect(result.lifecycle.transitions.map((t) => `${t.from}→${t.to}`)).toEqual(['draft→published', 'published→paused']);
    expect(Number(await definitionsVersion())).toBe(before + 1);
  });

  it('a template asking for published freezes a version only when its content changed', async () => {
    fresh();
    expect((await applyTemplate(redis, keys, { ...cartTemplate, status: 'published' })).lifecycle).toMatchObject({ status: 'published', version: 1, versionCreated: true });
    expect(await applyTemplate(redis, keys, { ...cartTemplate, status: 'published' })).toMatchObject({ outcome: 'unchanged', lifecycle: { version: 1, versionCreated: false, transitions: [] } });
    expect(await applyTemplate(redis, keys, { ...cartTemplate, subject: 'v2', status: 'published' })).toMatchObject({ outcome: 'changed', lifecycle: { version: 2, versionCreated: true } });
    expect((await applyTemplate(redis, keys, { ...cartTemplate, subject: 'v2', status: 'paused' })).lifecycle).toMatchObject({ status: 'paused', version: 2, transitions: [{ from: 'published', to: 'paused' }] });
    expect((await applyTemplate(redis, keys, { ...cartTemplate, subject: 'v2', status: 'paused' })).lifecycle.transitions).toEqual([]);
    expect((await applyTemplate(redis, keys, { ...cartTemplate, subject: 'v2', status: 'published' })).lifecycle).toMatchObject({ status: 'published', version: 2, versionCreated: false });
    expect((await applyTemplate(redis, keys, { ...cartTemplate, subject: 'v3' })).lifecycle).toMatchObject({ status: 'published', version: 2 });
    expect((await listTemplateVersions(redis, keys, TPL)).map((v) => v.document.subject)).toEqual([cartTemplate.subject, 'v2']);
  });

  it('a refused status applies nothing of the document either', async () => {
    fresh();
    await putTestProfile(redis, keys, amelie);
    const long = { ...browseTemplate, text: `${'x'.repeat(480)} {{ctx.dims.pageName}}`, status: 'published' };
    expect(await refusal(applyTemplate(redis, keys, long))).toMatchObject({ code: 'TEMPLATE_SMS_TOO_LONG' });
    expect(await getTemplate(redis, keys, 'browse-sms')).toBeUndefined();
  });
});

describe('sms.maxSegments at publish', () => {
  const tp = (id: string, event: Record<string, unknown>, profile: Record<string, unknown> = {}) => ({ kind: 'TestProfile', id, name: id, address: '+33612345678', profile, event });

  it("refuses a template whose test-profile preview needs more segments, naming the path and the profile", async () => {
    fresh();
    await putTestProfile(redis, keys, tp('tp-short', { dims: { pageName: 'cart' } }));
    await putTestProfile(redis, keys, tp('tp-long', { dims: { pageName: 'p'.repeat(420) } }));
    await putTemplate(redis, keys, { ...browseTemplate, text: 'Still thinking about {{ctx.dims.pageName}}? Come back to the shop.' });
    const error = await refusal(publishTemplate(redis, keys, 'browse-sms'));
    expect(error).toMatchObject({ code: 'TEMPLATE_SMS_TOO_LONG', status: 422 });
    expect(error.message).toMatch(/^template browse-sms is too long to publish:\n {2}text: rendered with test profile tp-long it needs 4 SMS segments \(GSM-7, 465 septets\); at most 3 \(campaign\.smsMaxSegments\)$/);
    expect(await listTemplateVersions(redis, keys, 'browse-sms')).toEqual([]);
    expect(await publishTemplate(redis, keys, 'browse-sms', { smsMaxSegments: 4 })).toMatchObject({ version: 1 });
  });

  it('checks each language, counts UCS-2 when a character needs it, and renders without data when there is no test profile', () => {
    const template = parseTemplate({ ...browseTemplate, text: 'Short {{ctx.dims.pageName}}', languages: { fr: { text: `😀 ${'é'.repeat(200)}` } } });
    const problems = checkSmsSegments(template, [], 3);
    expect(problems).toEqual([expect.objectContaining({ path: 'languages.fr.text', encoding: 'UCS-2', segments: 4 })]);
    expect(problems[0]?.testProfile).toBeUndefined();
    expect(problems[0]?.message).toMatch(/^rendered with no test profile it needs 4 SMS segments \(UCS-2, 203 UCS-2 units\)/);
    expect(checkSmsSegments(template, [], 4)).toEqual([]);
    const email = parseTemplate(cartTemplate);
    expect(checkSmsSegments(email, [], 1)).toEqual([]);
  });

  it("skips a preview that fails to render (the preview reports that), keeping the others' lengths", () => {
    const template = parseTemplate({ ...browseTemplate, text: '{{money ctx.dims.price "EUR"}} {{ctx.dims.pageName}}' });
    const broken = parseTestProfile(tp('tp-broken', { dims: { pageName: 'x'.repeat(600) } }));
    const long = parseTestProfile(tp('tp-long', { dims: { price: 10, pageName: 'x'.repeat(600) } }));
    expect(checkSmsSegments(template, [broken], 3)).toEqual([]);
    expect(checkSmsSegments(template, [broken, long], 3)).toEqual([expect.objectContaining({ path: 'text', testProfile: 'tp-long', segments: 4 })]);
  });
});

// The definitions of SPEC §8 through the admin API with a real HTTP client: CRUD of every kind,
// 422 with every problem and its path, and what the other roles then read from Redis (the
// detect stage's loadTriggers, the campaign stores); plus the lifecycle endpoints' rules.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { loadSources } from '../../src/model/source-store.js';
import { loadTriggers } from '../../src/model/trigger-store.js';
import { triggerDocuments } from '../detect/trigger-documents.js';
import { amelie, browseEvent, browseTemplate, cartEvent, cartTemplate } from '../campaign/definitions-fixtures.js';
import { startTestAdmin, type TestAdmin } from './admin-helpers.js';

const source = { kind: 'Source', id: 'shop-web', name: 'Shop', writeKeys: ['wk_test_0123456789'] };
const cart = triggerDocuments[0] as Record<string, unknown>;

let admin: TestAdmin;
beforeAll(async () => {
  admin = await startTestAdmin({ url: inject('redisUrl') });
});
afterAll(() => admin.close());

describe('sources and triggers', () => {
  it('creates (201), reads, lists, re-puts unchanged (200) and changes a trigger, keeping its identity', async () => {
    expect((await admin.call('PUT', '/admin/sources/shop-web', source)).status).toBe(201);
    const created = await admin.call('PUT', '/admin/triggers/cart-abandonment', cart);
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ outcome: 'created', item: { id: 'cart-abandonment', triggerId: expect.any(String), version: 1 } });
    const again = await admin.call('PUT', '/admin/triggers/cart-abandonment', cart);
    expect(again).toMatchObject({ status: 200, body: { outcome: 'unchanged', item: { version: 1 } } });
    const changed = await admin.call('PUT', '/admin/triggers/cart-abandonment', { ...cart, inactivity: '2s' });
    expect(changed.body).toMatchObject({ outcome: 'changed', item: { inactivity: '2s', version: 2, triggerId: created.body.item.triggerId } });
    expect((await admin.call('GET', '/admin/triggers/cart-abandonment')).body).toMatchObject({ id: 'cart-abandonment', inactivity: '2s', version: 2 });
    expect((await admin.call('GET', '/admin/triggers')).body.items.map((t: { id: string }) => t.id)).toEqual(['cart-abandonment']);
    const { triggers } = await loadTriggers(admin.runtime.redis, admin.runtime.keys);
    expect(triggers).toMatchObject([{ id: 'cart-abandonment', triggerId: created.body.item.triggerId, version: 2, inactivityMs: 2000 }]);
    expect((await loadSources(admin.runtime.redis, admin.runtime.keys)).sources.map((s) => s.id)).toEqual(['shop-web']);
  });

  it('takes the id and kind from the URL, and refuses a body naming others', async () => {
    const { kind: _k, id: _i, ...bare } = cart;
    expect((await admin.call('PUT', '/admin/triggers/from-url', bare)).body).toMatchObject({ outcome: 'created', item: { id: 'from-url' } });
    const other = await admin.call('PUT', '/admin/triggers/from-url', { ...cart, id: 'elsewhere' });
    expect(other.status).toBe(422);
    expect(other.body.error.errors).toEqual([{ path: 'id', code: 'BUNDLE_DOCUMENT_INVALID', message: expect.stringContaining('from-url') }]);
  });

  it('answers 422 with every problem, each with its path and code, and stores nothing', async () => {
    const bad = { ...cart, id: 'broken', type: 'sometimes', inactivity: '1y', include: { containers: [[{ metric: 'scAdd', op: 'around' }]] }, extra: true };
    const reply = await admin.call('PUT', '/admin/triggers/broken', bad);
    expect(reply.status).toBe(422);
    expect(reply.body.error.code).toBe('DEFINITIONS_INVALID');
    const paths = reply.body.error.errors.map((e: { path: string }) => e.path);
    expect(paths).toEqual(expect.arrayContaining(['type', 'inactivity', 'include.containers.0.0.op', '']));
    expect(reply.body.error.errors.every((e: { code: string; message: string }) => e.code === 'TRIGGER_INVALID' && e.message.length > 0)).toBe(true);
    expect(reply.body.error.errors.some((e: { message: string }) => e.message.includes('extra'))).toBe(true);
    expect((await admin.call('GET', '/admin/triggers/broken')).status).toBe(404);
  });

  it('deletes, then answers 404 for the deleted one', async () => {
    expect(await admin.call('DELETE', '/admin/triggers/from-url')).toMatchObject({ status: 200, body: { deleted: { kind: 'Trigger', id: 'from-url' } } });
    const gone = await admin.call('GET', '/admin/triggers/from-url');
    expect(gone.status).toBe(404);
    expect(gone.body.error.code).toBe('DEFINITION_NOT_FOUND');
    expect((await admin.call('DELETE', '/admin/triggers/from-url')).status).toBe(404);
  });
});

describe('campaign definitions and their lifecycle', () => {
  it('stores test profiles, templates and events, showing their lifecycle state', async () => {
    expect((await admin.call('PUT', '/admin/test-profiles/tp-amelie', amelie)).status).toBe(201);
    expect((await admin.call('PUT', '/admin/templates/cart-abandonment-email', cartTemplate)).status).toBe(201);
    expect((await admin.call('PUT', '/admin/events/EVTcartAbandonment', cartEvent)).status).toBe(201);
    expect((await admin.call('GET', '/admin/events/EVTcartAbandonment')).body).toMatchObject({ id: 'EVTcartAbandonment', channel: 'email', status: 'draft', everSent: false, version: 1 });
    expect((await admin.call('GET', '/admin/templates')).body.items).toMatchObject([{ id: 'cart-abandonment-email', status: 'draft', revision: 1 }]);
    expect((await admin.call('GET', '/admin/test-profiles')).body.items).toMatchObject([{ id: 'tp-amelie', address: 'proof-amelie@example.com' }]);
  });

  it('reports a change of an event channel as an error and keeps the event', async () => {
    const reply = await admin.call('PUT', '/admin/events/EVTcartAbandonment', { ...cartEvent, channel: 'sms', template: 'browse-sms' });
    expect(reply.status).toBe(422);
    expect(reply.body.error.errors).toEqual([expect.objectContaining({ path: 'channel', code: 'EVENT_IMMUTABLE_FIELD' })]);
    expect((await admin.call('GET', '/admin/events/EVTcartAbandonment')).body.channel).toBe('email');
  });

  it('publishes, pauses and resumes an event; refuses forbidden transitions and deletes with their code', async () => {
    expect((await admin.call('POST', '/admin/events/EVTcartAbandonment/publish')).body).toMatchObject({ status: 'published' });
    const resume = await admin.call('POST', '/admin/events/EVTcartAbandonment/resume');
    expect(resume.status).toBe(200); // already published: idempotent
    expect((await admin.call('POST', '/admin/events/EVTcartAbandonment/pause')).body).toMatchObject({ status: 'paused' });
    const publishPaused = await admin.call('POST', '/admin/events/EVTcartAbandonment/publish');
    expect(publishPaused.status).toBe(409);
    expect(publishPaused.body.error).toMatchObject({ code: 'LIFECYCLE_FORBIDDEN', message: expect.stringContaining('resume') });
    const deletePaused = await admin.call('DELETE', '/admin/events/EVTcartAbandonment');
    expect(deletePaused.status).toBe(422);
    expect(deletePaused.body.error.errors).toEqual([expect.objectContaining({ code: 'LIFECYCLE_FORBIDDEN', kind: 'Event', id: 'EVTcartAbandonment' })]);
    expect((await admin.call('POST', '/admin/events/EVTnothing/publish')).status).toBe(404);
    expect((await admin.call('GET', '/admin/events/EVTcartAbandonment')).body.status).toBe('paused');
  });

  it('publishes a template into a frozen version listed by /versions', async () => {
    const published = await admin.call('POST', '/admin/templates/cart-abandonment-email/publish');
    expect(published.body).toMatchObject({ status: 'published', version: 1, versionCreated: true });
    await admin.call('PUT', '/admin/templates/cart-abandonment-email', { ...cartTemplate, subject: 'New subject' });
    expect((await admin.call('POST', '/admin/templates/cart-abandonment-email/publish')).body).toMatchObject({ version: 2 });
    const versions = await admin.call('GET', '/admin/templates/cart-abandonment-email/versions');
    expect(versions.body.versions.map((v: { version: number; document: { subject: string } }) => [v.version, v.document.subject])).toEqual([
      [1, cartTemplate.subject],
      [2, 'New subject'],
    ]);
    expect((await admin.call('GET', '/admin/templates/nothing/versions')).status).toBe(404);
  });

  it('applies `status:` of a document with its content: an event and its template published together', async () => {
    const reply = await admin.call('POST', '/admin/apply', {
      documents: [
        { file: 'browse.yaml', line: 1, document: { ...browseEvent, status: 'published' } },
        { file: 'browse.yaml', line: 12, document: { ...browseTemplate, status: 'published' } },
      ],
    });
    expect(reply.status).toBe(200);
    expect(reply.body.created.map((c: { kind: string }) => c.kind)).toEqual(['Event', 'Template']);
    expect((await admin.call('GET', '/admin/events/EVTbrowseAbandonment')).body.status).toBe('published');
    expect((await admin.call('GET', '/admin/templates/browse-sms')).body).toMatchObject({ status: 'published', publishedVersion: 1, text: browseTemplate.text });
    const again = await admin.call('POST', '/admin/apply', {
      documents: [
        { file: 'browse.yaml', line: 1, document: { ...browseEvent, status: 'published' } },
        { file: 'browse.yaml', line: 12, document: { ...browseTemplate, status: 'published' } },
      ],
    });
    expect(again.body).toMatchObject({ created: [], changed: [], unchanged: [{ id: 'EVTbrowseAbandonment' }, { id: 'browse-sms' }] });
    expect((await admin.call('GET', '/admin/templates/browse-sms/versions')).body.versions).toHaveLength(1);
  });

  it('refuses an event and a template of the bundle on different channels', async () => {
    const reply = await admin.call('POST', '/admin/apply', {
      documents: [
        { file: 'x.yaml', line: 1, lines: { template: 7 }, document: { ...browseEvent, id: 'EVTother', template: 'other-email' } },
        { file: 'x.yaml', line: 10, document: { ...cartTemplate, id: 'other-email' } },
      ],
    });
    expect(reply.status).toBe(422);
    expect(reply.body.error.errors).toEqual([expect.objectContaining({ code: 'TEMPLATE_CHANNEL_MISMATCH', file: 'x.yaml', line: 7, path: 'template' })]);
  });
});

describe('data', () => {
  it('upserts, reads, looks up and deletes a profile; 422 lists every problem', async () => {
    expect((await admin.call('PUT', '/admin/profiles/u-42', { email: 'Ada@Example.com', firstName: 'Ada' })).status).toBe(201);
    expect((await admin.call('GET', '/admin/profiles/u-42')).body).toMatchObject({ id: 'u-42', firstName: 'Ada' });
    expect((await admin.call('GET', '/admin/profiles?field=email&value=ada@example.com')).body.items).toMatchObject([{ id: 'u-42' }]);
    const bad = await admin.call('PUT', '/admin/profiles/u-43', { email: 12, constructor: 1 });
    expect(bad.status).toBe(422);
    expect(bad.body.error.errors.length).toBeGreaterThanOrEqual(2);
    expect(await admin.call('DELETE', '/admin/profiles/u-42')).toMatchObject({ status: 200 });
    expect((await admin.call('GET', '/admin/profiles/u-42')).status).toBe(404);
  });

  it('reads and writes catalog rows under resources/catalog, one or many', async () => {
    expect((await admin.call('GET', '/admin/resources/catalog')).body).toMatchObject({ id: 'catalog', key: 'sku' });
    expect((await admin.call('PUT', '/admin/resources/catalog/SKU-1', { name: 'Boots', price: 89.9 })).status).toBe(201);
    expect((await admin.call('GET', '/admin/resources/catalog/SKU-1')).body).toEqual({ sku: 'SKU-1', name: 'Boots', price: 89.9 });
    const many = await admin.call('POST', '/admin/resources/catalog/rows', { rows: [{ sku: 'SKU-2', name: 'Hat' }, { name: 'no sku' }] });
    expect(many.status).toBe(422);
    expect(many.body.error.errors).toEqual([expect.objectContaining({ path: 'rows.1.sku' })]);
    expect((await admin.call('GET', '/admin/resources/catalog/SKU-2')).status).toBe(404);
    expect((await admin.call('GET', '/admin/resources/stores/1')).status).toBe(404);
  });

  it('adds, checks and removes a suppressed address', async () => {
    expect((await admin.call('PUT', `/admin/suppressions/${encodeURIComponent('No@Example.com')}`)).body).toMatchObject({ added: true });
    expect((await admin.call('GET', '/admin/suppressions/no%40example.com')).body).toMatchObject({ suppressed: true });
    expect((await admin.call('GET', '/admin/suppressions')).body.values).toEqual(['no@example.com']);
    expect((await admin.call('PUT', '/admin/suppressions/not-an-address')).status).toBe(422);
    expect((await admin.call('DELETE', '/admin/suppressions/no%40example.com')).body).toMatchObject({ removed: true });
  });
});

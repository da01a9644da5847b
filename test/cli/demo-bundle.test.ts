// The demo shop as shipped in config/definitions/: every file parses and every definition is
// valid (the checks `rebound apply` runs), the triggers, events, templates and test profiles are
// the ones the README describes, every template renders for both test profiles in their language
// with the catalog enrichment production applies, every NDJSON line is accepted by the import
// validators, and the generator reproduces the committed data files byte for byte.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { checkBundle } from '../../src/model/bundle-check.js';
import { loadBundle } from '../../src/model/bundle-files.js';
import { formatIssue } from '../../src/model/definition-issues.js';
import { parseEvent, type EventDefinition } from '../../src/model/event.js';
import { enrich, type MessageContext } from '../../src/model/message-context.js';
import { parseProfile, type Profile } from '../../src/model/profile.js';
import { compileTemplate } from '../../src/model/render.js';
import { catalogResource, parseResourceRow } from '../../src/model/resource.js';
import { smsInfo } from '../../src/model/sms-encoding.js';
import { parseSource } from '../../src/model/source.js';
import { parseTemplate, type TemplateDefinition } from '../../src/model/template.js';
import { parseTestProfile, previewContext, type TestProfileDefinition } from '../../src/model/test-profile.js';
import { parseTrigger } from '../../src/model/trigger.js';

const root = resolve(import.meta.dirname, '../..');
const dir = join(root, 'config/definitions');
const bundle = loadBundle(dir);
const check = checkBundle(bundle.documents);
const documents = (kind: string): Array<Record<string, unknown>> => check.checked.filter((d) => d.kind.kind === kind).map((d) => d.source.document as Record<string, unknown>);
const ndjson = (name: string): unknown[] =>
  readFileSync(join(dir, name), 'utf8')
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as unknown);

const temps: string[] = [];
afterAll(() => temps.forEach((t) => rmSync(t, { recursive: true, force: true })));

describe('config/definitions: the demo shop', () => {
  it('parses, and every definition is valid', () => {
    expect([...bundle.issues, ...check.issues].map(formatIssue)).toEqual([]);
    const kinds: Record<string, number> = {};
    for (const doc of check.checked) kinds[doc.kind.kind] = (kinds[doc.kind.kind] ?? 0) + 1;
    expect(kinds).toEqual({ Source: 1, Trigger: 3, Event: 6, Template: 6, TestProfile: 2 });
  });

  it('has the source shop-web with the write key the README documents', () => {
    const [source] = documents('Source').map((d) => parseSource(d));
    expect(source?.id).toBe('shop-web');
    const key = source?.writeKeys[0] as string;
    expect(readFileSync(join(root, 'README.md'), 'utf8')).toContain(key);
  });

  it('has cart, browse and search abandonment triggers on shop-web with a 30 s inactivity', () => {
    const triggers = documents('Trigger').map((d) => parseTrigger(d));
    expect(triggers.map((t) => [t.id, t.type, t.source, t.inactivityMs, t.enabled])).toEqual([
      ['cart-abandonment', 'abandonment', 'shop-web', 30_000, true],
      ['browse-abandonment', 'abandonment', 'shop-web', 30_000, true],
      ['search-abandonment', 'abandonment', 'shop-web', 30_000, true],
    ]);
    const included = (id: string): unknown => triggers.find((t) => t.id === id)?.include.containers;
    expect(included('cart-abandonment')).toEqual([[{ metric: 'scAdd', op: 'exists', scope: 'hit' }]]);
    expect(included('browse-abandonment')).toEqual([[{ metric: 'prodView', op: 'exists', scope: 'hit' }]]);
    expect(included('search-abandonment')).toEqual([[{ metric: 'search', op: 'exists', scope: 'hit' }]]);
  });

  it('gives each trigger a published email and SMS event, profile-based, reconciled by userId then email', () => {
    const events = documents('Event').map((d) => parseEvent(d));
    const byTrigger = (trigger: string): string[] => events.filter((e) => e.trigger === trigger).map((e) => e.channel).sort();
    for (const trigger of ['cart-abandonment', 'browse-abandonment', 'search-abandonment']) expect(byTrigger(trigger)).toEqual(['email', 'sms']);
    for (const event of events) {
      expect(event.status).toBe('published');
      expect(event.targeting).toBe('profile');
      expect(event.reconciliation.slice(0, 2)).toEqual([
        { alias: 'userId', profileField: 'id' },
        { alias: 'email', profileField: 'email' },
      ]);
    }
    for (const event of events.filter((e) => e.trigger === 'cart-abandonment')) {
      expect(event.enrichment.map((s) => [s.name, s.resource, s.join])).toEqual([['cart', 'catalog', { sku: 'ctx.products[].sku' }]]);
    }
  });

  it('has every template published, in English and French', () => {
    const templates = documents('Template').map((d) => parseTemplate(d));
    expect(templates).toHaveLength(6);
    for (const template of templates) {
      expect(template.status).toBe('published');
      expect(Object.keys(template.languages)).toEqual(['fr']);
    }
  });

  it('has an English and a French test profile', () => {
    const profiles = documents('TestProfile').map((d) => parseTestProfile(d));
    expect(profiles.map((p) => p.profile.locale)).toEqual(['en-GB', 'fr-FR']);
  });
});

describe('config/definitions: rendering', () => {
  const catalog = new Map(ndjson('catalog.ndjson').map((row) => [String((row as { sku: string }).sku), row as Record<string, unknown>]));
  const resources = { getMany: async (_name: string, skus: readonly string[]) => new Map(skus.map((sku) => [sku, catalog.get(sku)])) };
  const templates = new Map(documents('Template').map((d) => parseTemplate(d)).map((t): [string, TemplateDefinition] => [t.id, t]));
  const testProfiles = documents('TestProfile').map((d) => parseTestProfile(d));
  const events = documents('Event').map((d) => parseEvent(d));

  async function render(event: EventDefinition, testProfile: TestProfileDefinition) {
    const compiled = compileTemplate(templates.get(event.template) as TemplateDefinition);
    const context = previewContext(testProfile, { id: event.id, trigger: event.trigger });
    const enriched = await enrich(event, context as unknown as MessageContext, resources);
    expect(enriched.ok).toBe(true);
    return compiled.render(context, testProfile.profile.locale as string);
  }

  it('renders every event for both test profiles in their language, with catalog names and first names', async () => {
    for (const event of events) {
      for (const testProfile of testProfiles) {
        const french = testProfile.profile.locale === 'fr-FR';
        const message = await render(event, testProfile);
        const body = event.channel === 'email' ? (message.html as string) : (message.text as string);
        expect(body, `${event.id} ${testProfile.id}`).toContain(testProfile.profile.firstName as string);
        if (event.channel === 'email') {
          expect(message.subject).toContain(testProfile.profile.firstName as string);
          expect(body).toContain(french ? '<html lang="fr">' : '<html lang="en">');
        } else {
          expect(body).toContain(french ? 'STOP pour ne plus recevoir de SMS' : 'Reply STOP to opt out');
          const info = smsInfo(body);
          expect(info.segments, `${event.id} ${testProfile.id}: ${body}`).toBeLessThanOrEqual(2);
        }
        const products = testProfile.event.products as Array<{ sku: string }>;
        if (event.trigger === 'cart-abandonment') expect(body).toContain(String(catalog.get((products[0] as { sku: string }).sku)?.name));
        if (event.trigger === 'search-abandonment') expect(body).toContain((testProfile.event.dims as { searchTerm: string }).searchTerm);
      }
    }
  });

  it('lists the cart with the catalog name, image, price and link of each product (English: EUR in en-GB)', async () => {
    const cart = events.find((e) => e.id === 'EVTcartAbandonmentEmail') as EventDefinition;
    const emma = testProfiles.find((p) => p.id === 'tp-emma') as TestProfileDefinition;
    const message = await render(cart, emma);
    for (const sku of ['SKU-0001', 'SKU-0002']) {
      const row = catalog.get(sku) as { name: string; image: string; url: string };
      expect(message.html).toContain(row.name);
      expect(message.html).toContain(row.image);
      expect(message.html).toContain(`href="${row.url}"`);
    }
    expect(message.text).toContain('Quantity 2 · €81.99');
  });
});

describe('config/definitions: sample data', () => {
  it('has 200 profiles that the profile import accepts: some French, some with phones, a few opted out', () => {
    const profiles = ndjson('profiles.ndjson').map((raw) => parseProfile(raw));
    expect(profiles).toHaveLength(200);
    expect(new Set(profiles.map((p) => p.id)).size).toBe(200);
    expect(new Set(profiles.map((p) => p.email)).size).toBe(200);
    const count = (test: (p: Profile) => boolean): number => profiles.filter(test).length;
    expect(count((p) => p.locale === 'fr-FR')).toBeGreaterThanOrEqual(50);
    expect(count((p) => p.locale?.startsWith('en-') === true)).toBeGreaterThanOrEqual(100);
    expect(count((p) => p.phone !== undefined)).toBeGreaterThanOrEqual(50);
    expect(count((p) => p.emailOptOut === true)).toBeGreaterThanOrEqual(2);
    expect(count((p) => p.smsOptOut === true && p.phone !== undefined)).toBeGreaterThanOrEqual(2);
    expect(profiles.every((p) => p.email?.endsWith('@example.com') && typeof p.firstName === 'string')).toBe(true);
  });

  it('has a 500-product catalog that the catalog import accepts, with sku, name, price, image, url and category', () => {
    const rows = ndjson('catalog.ndjson').map((raw) => parseResourceRow(catalogResource, raw).row);
    expect(rows).toHaveLength(500);
    expect(new Set(rows.map((r) => r.sku)).size).toBe(500);
    expect(new Set(rows.map((r) => r.name)).size).toBe(500);
    for (const row of rows) {
      expect(Object.keys(row).sort()).toEqual(['category', 'image', 'name', 'price', 'sku', 'url']);
      expect(row.price).toBeGreaterThan(0);
      expect(String(row.url)).toMatch(/^https:\/\/shop\.example\.com\/p\//);
    }
  });

  it('is what the generator writes, byte for byte', async () => {
    const out = mkdtempSync(join(tmpdir(), 'rebound-demo-data-'));
    temps.push(out);
    const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/generate-demo-data.ts', out], { cwd: root, stdio: 'ignore' });
    expect(await new Promise((done) => child.once('exit', done))).toBe(0);
    for (const name of ['catalog.ndjson', 'profiles.ndjson']) expect(readFileSync(join(out, name), 'utf8'), name).toBe(readFileSync(join(dir, name), 'utf8'));
  });
});

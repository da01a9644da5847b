// POST /admin/apply, what `rebound apply` sends, on a single Redis and on a Redis Cluster: a
// folder with templates as files is created, then unchanged when applied again; a bundle with
// one bad document applies nothing; --dry-run changes nothing; --prune deletes what the bundle
// lacks; a forbidden change of what is stored is reported with file and line.
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { loadBundle } from '../../src/model/bundle-files.js';
import type { BundleDocument } from '../../src/model/bundle.js';
import { targets } from '../stages/pipeline-helpers.js';
import { sourceYaml, startTestAdmin, triggerYaml, writeTree, type Reply, type TestAdmin } from './admin-helpers.js';

const eventYaml = (channel = 'email'): string => `kind: Event
id: EVTcart
trigger: cart
channel: ${channel}
targeting: profile
reconciliation:
  - {alias: userId, profileField: id}
template: cart-email
`;
const templateYaml = `kind: Template
id: cart-email
channel: email
subject: "{{default profile.firstName 'Hello'}}, your cart is waiting"
html: templates/cart.html.hbs
text: templates/cart.txt.hbs
`;

function shop(extra: Record<string, string> = {}): string {
  return writeTree({
    'shop/source.yaml': sourceYaml(),
    'shop/triggers.yaml': `${triggerYaml('cart')}---\n${triggerYaml('browse')}`,
    'shop/campaign.yaml': `${eventYaml()}---\n${templateYaml}`,
    'shop/templates/cart.html.hbs': '<p>{{#listing ctx.products}}{{sku}}{{else}}your cart{{/listing}}</p>\n',
    'shop/templates/cart.txt.hbs': 'Your cart is waiting.\n',
    ...extra,
  });
}

const names = (items: Array<{ kind: string; id: string }>): string[] => items.map((i) => `${i.kind} ${i.id}`);

for (const target of targets(inject('redisUrl'), inject('redisClusterSeeds'))) {
  describe(`POST /admin/apply (${target.name})`, () => {
    let admin: TestAdmin;
    const roots: string[] = [];
    const bundle = (files: Record<string, string> = {}): BundleDocument[] => {
      const root = shop(files);
      roots.push(root);
      const loaded = loadBundle(join(root, 'shop'));
      expect(loaded.issues).toEqual([]);
      return loaded.documents;
    };
    const apply = (documents: BundleDocument[], options: { dryRun?: boolean; prune?: boolean } = {}): Promise<Reply> => admin.call('POST', '/admin/apply', { documents, ...options });
    const stored = async (): Promise<string[]> => {
      const all: string[] = [];
      for (const collection of ['sources', 'triggers', 'events', 'templates']) {
        for (const item of (await admin.call('GET', `/admin/${collection}`)).body.items as Array<{ id: string }>) all.push(`${collection}/${item.id}`);
      }
      return all.sort();
    };

    beforeAll(async () => {
      admin = await startTestAdmin(target.redis);
    });
    afterAll(async () => {
      await admin.close();
      roots.forEach((root) => rmSync(root, { recursive: true, force: true }));
    });

    it('dry-run of a new folder lists what would be created and changes nothing', async () => {
      const reply = await apply(bundle(), { dryRun: true });
      expect(reply.status).toBe(200);
      expect(reply.body.dryRun).toBe(true);
      // kind by kind (what others refer to first), in bundle order within a kind
      expect(names(reply.body.created)).toEqual(['Source shop-web', 'Trigger cart', 'Trigger browse', 'Event EVTcart', 'Template cart-email']);
      expect(await stored()).toEqual([]);
    });

    it('creates every definition of a folder, templates read from their files; again, all unchanged', async () => {
      const first = await apply(bundle());
      expect(first.status).toBe(200);
      expect(first.body).toMatchObject({ dryRun: false, changed: [], unchanged: [], deleted: [] });
      expect(first.body.created).toHaveLength(5);
      expect(first.body.created[0]).toMatchObject({ kind: 'Source', id: 'shop-web', file: expect.stringContaining('shop/source.yaml'), line: 1 });
      const template = await admin.call('GET', '/admin/templates/cart-email');
      expect(template.body).toMatchObject({ html: expect.stringContaining('{{#listing ctx.products}}'), text: 'Your cart is waiting.\n', status: 'draft' });
      const version = await admin.runtime.redis.get(admin.runtime.keys.definitionsVersion());
      const again = await apply(bundle());
      expect(again.body).toMatchObject({ created: [], changed: [], deleted: [] });
      expect(again.body.unchanged).toHaveLength(5);
      expect(await admin.runtime.redis.get(admin.runtime.keys.definitionsVersion())).toBe(version);
    });

    it('applies nothing when one document of the bundle is invalid, and reports each problem with file and line', async () => {
      const documents = bundle({
        'shop/triggers.yaml': `${triggerYaml('cart', '20m')}---\n${triggerYaml('browse', '9h')}---\n${triggerYaml('search').replace('type: abandonment', 'type: whenever')}`,
      });
      const reply = await apply(documents);
      expect(reply.status).toBe(422);
      expect(reply.body.error.code).toBe('DEFINITIONS_INVALID');
      expect(reply.body.error.errors.map((e: { file: string; line: number; path: string; id: string }) => [e.file.replace(/.*\/shop\//, ''), e.line, e.path, e.id])).toEqual([
        ['triggers.yaml', 26, 'inactivity', 'browse'],
        ['triggers.yaml', 33, 'type', 'search'],
      ]);
      expect((await admin.call('GET', '/admin/triggers/cart')).body.inactivity).toBe('10m');
      expect((await admin.call('GET', '/admin/triggers/search')).status).toBe(404);
    });

    it('reports a forbidden change of a stored definition (an event channel) at its line, applying nothing', async () => {
      const documents = bundle({ 'shop/campaign.yaml': `${eventYaml('sms')}---\n${templateYaml.replace('channel: email', 'channel: email\nfrom: shop@example.com')}` });
      const reply = await apply(documents);
      expect(reply.status).toBe(422);
      expect(reply.body.error.errors).toEqual(
        expect.arrayContaining([expect.objectContaining({ kind: 'Event', id: 'EVTcart', path: 'channel', line: 4, code: 'EVENT_IMMUTABLE_FIELD', file: expect.stringContaining('campaign.yaml') })]),
      );
      expect((await admin.call('GET', '/admin/templates/cart-email')).body.from).toBeUndefined();
    });

    it('with prune, deletes what the bundle lacks (dry-run first), and refuses to prune with nothing', async () => {
      const documents = bundle().filter((d) => (d.document as { id: string }).id !== 'browse');
      const preview = await apply(documents, { prune: true, dryRun: true });
      expect(names(preview.body.deleted)).toEqual(['Trigger browse']);
      expect((await admin.call('GET', '/admin/triggers/browse')).status).toBe(200);
      const pruned = await apply(documents, { prune: true });
      expect(names(pruned.body.deleted)).toEqual(['Trigger browse']);
      expect(pruned.body.unchanged).toHaveLength(4);
      expect(await stored()).toEqual(['events/EVTcart', 'sources/shop-web', 'templates/cart-email', 'triggers/cart']);
      const empty = await apply([], { prune: true });
      expect(empty.status).toBe(422);
      expect(await stored()).toHaveLength(4);
    });

    it('refuses a prune that would delete a published event, deleting nothing', async () => {
      expect((await admin.call('POST', '/admin/events/EVTcart/publish')).body.status).toBe('published');
      const documents = bundle().filter((d) => (d.document as { kind: string }).kind !== 'Event');
      const reply = await apply(documents, { prune: true });
      expect(reply.status).toBe(422);
      expect(reply.body.error.errors).toEqual([expect.objectContaining({ kind: 'Event', id: 'EVTcart', code: 'LIFECYCLE_FORBIDDEN' })]);
      expect((await admin.call('GET', '/admin/triggers/browse')).status).toBe(404);
      expect((await admin.call('GET', '/admin/events/EVTcart')).body.status).toBe('published');
    });
  });
}

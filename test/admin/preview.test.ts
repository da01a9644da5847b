// Template preview and proof through the admin API (SPEC §6.6) on a running shop: the campaign
// role's cart email (catalog enrichment, French subject), an SMS template in two languages, test
// profiles put through the API, and the deliver role sending to a real SMTP server. A preview
// renders what production would (enrichment, language, signed links, SMS encoding and segments);
// a proof reaches the SMTP server with `[PROOF]` and leaves the fatigue of a max-1 event untouched.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { verifyToken } from '../../src/model/message-context.js';
import { waitFor } from '../support/processes.js';
import { decided, newVisitor } from '../campaign/campaign-harness.js';
import { startShopStack, type ShopStack } from './shop-stack.js';

let stack: ShopStack;
const call = (method: string, path: string, body?: unknown, token?: string | null) => stack.admin.call(method, path, body, token);

const smsTemplate = {
  kind: 'Template',
  id: 'cart-sms',
  channel: 'sms',
  text: "{{default profile.firstName 'Hello'}}, your cart: {{#listing cart max=2}}{{name}} {{/listing}}- back at https://shop.example.com/cart",
  languages: { fr: { text: "{{default profile.firstName 'Bonjour'}}, votre panier vous attend : {{#listing cart max=2}}{{name}} à {{money price 'EUR' 'fr-FR'}}{{/listing}}. Côté boutique : https://shop.example.com/panier" } },
};
const smsEvent = {
  kind: 'Event',
  id: 'EVTcartSms',
  trigger: 'cart-abandonment',
  channel: 'sms',
  targeting: 'profile',
  reconciliation: [{ alias: 'userId', profileField: 'id' }],
  enrichment: [{ name: 'cart', resource: 'catalog', join: { sku: 'ctx.products[].sku' } }],
  template: 'cart-sms',
};
const testProfiles = [
  {
    kind: 'TestProfile',
    id: 'tp-amelie',
    name: 'Amélie (test)',
    address: 'proof-amelie@example.com',
    profile: { firstName: 'Amélie', locale: 'fr', phone: '+33 6 12 34 56 78' },
    event: { products: [{ sku: 'SKU-1', quantity: 1, price: 89.9 }], dims: { pageName: 'cart' } },
  },
  { kind: 'TestProfile', id: 'tp-ada', name: 'Ada (test)', address: 'Proof-Ada@Example.com', profile: { id: 'u-ada', firstName: 'Ada', locale: 'en-GB' }, event: { products: [{ sku: 'SKU-2', quantity: 2, price: 12.5 }] } },
];

async function put(collection: string, document: { id: string } & Record<string, unknown>): Promise<void> {
  const reply = await call('PUT', `/admin/${collection}/${document.id}`, document);
  expect(reply.status, JSON.stringify(reply.body)).toBeLessThan(300);
}

beforeAll(async () => {
  stack = await startShopStack({ redis: inject('redisUrl'), smtp: true, event: { typology: { fatigue: [{ max: 1, per: '24h', channel: 'email' }] } } });
  await stack.shop.putProfiles({ id: 'u-ada', email: 'ada@example.com', firstName: 'Ada', locale: 'en-GB' });
  for (const tp of testProfiles) await put('test-profiles', tp);
  await put('templates', smsTemplate);
  await put('events', smsEvent);
});
afterAll(() => stack.close());

describe('POST /admin/templates/{id}/preview', () => {
  it('renders a test profile in French with the catalog enrichment of the published event and signed links', async () => {
    const reply = await call('POST', '/admin/templates/cart-email/preview', { testProfile: 'tp-amelie' });
    expect(reply.status, JSON.stringify(reply.body)).toBe(200);
    expect(reply.body).toMatchObject({
      template: { id: 'cart-email', channel: 'email', version: null, from: 'Shop <shop@example.com>' },
      event: { id: 'EVTcartEmail', trigger: 'cart-abandonment', targeting: 'profile' },
      testProfile: 'tp-amelie',
      locale: 'fr',
      subject: 'Amélie, votre panier vous attend',
      warnings: [],
    });
    expect(reply.body.html).toContain('<img src="https://cdn.example.com/sku-1.png"> Trail shoes: 89,90');
    expect(reply.body.text).toContain('Trail shoes: 89,90');
    const secret = (await stack.shop.runtime.redis.get(stack.shop.runtime.keys.linkSecret()))!;
    const tracked = /href="http:\/\/localhost:8080\/c\/([\w.-]+)"/.exec(reply.body.html as string);
    expect(verifyToken(tracked![1]!, secret)).toEqual({ u: 'https://shop.example.com/cart?v=test%3Atp-amelie', p: 'test:tp-amelie' });
    const unsubscribe = /^<http:\/\/localhost:8080\/u\/([\w.-]+)>$/.exec(reply.body.headers['List-Unsubscribe'] as string);
    expect(verifyToken(unsubscribe![1]!, secret)).toEqual({ p: 'test:tp-amelie', c: 'email' });
  });

  it('reports the SMS encoding and segments of each language', async () => {
    const french = await call('POST', '/admin/templates/cart-sms/preview', { testProfile: 'tp-amelie' });
    expect(french.status, JSON.stringify(french.body)).toBe(200);
    expect(french.body).toMatchObject({ event: { id: 'EVTcartSms' }, locale: 'fr', sms: { encoding: 'UCS-2', segments: 2, maxSegments: 3 } });
    expect(french.body.text).toMatch(/^Amélie, votre panier vous attend : Trail shoes à 89,90\s€\. Côté boutique/);
    expect(french.body.sms.units).toBe(french.body.text.length);
    expect(french.body).not.toHaveProperty('subject');
    const english = await call('POST', '/admin/templates/cart-sms/preview', { testProfile: 'tp-ada' });
    expect(english.body).toMatchObject({ locale: 'en-GB', text: 'Ada, your cart: Socks - back at https://shop.example.com/cart', sms: { encoding: 'GSM-7', segments: 1 } });
  });

  it('renders profile and ctx data given in the request, with the enrichment of a chosen event', async () => {
    const reply = await call('POST', '/admin/templates/cart-email/preview', {
      profile: { firstName: 'Zoé', locale: 'fr-FR' },
      ctx: { products: [{ sku: 'SKU-2', quantity: 3 }, { sku: 'SKU-404', quantity: 1, price: 5 }], dims: { pageName: 'cart' } },
      event: 'EVTcartEmail',
    });
    expect(reply.status, JSON.stringify(reply.body)).toBe(200);
    expect(reply.body).toMatchObject({ testProfile: null, locale: 'fr-FR', subject: 'Zoé, votre panier vous attend' });
    expect(reply.body.html).toContain('Socks: 12,50');
    expect(reply.body.html).toContain('× 3');
    const bare = await call('POST', '/admin/templates/cart-email/preview', {});
    expect(bare.body).toMatchObject({ subject: 'Hello, your cart is waiting' });
    expect(bare.body.html).toContain('Your cart is empty');
  });

  it('warns when a required enrichment finds nothing, as production would then send nothing', async () => {
    await put('events', { ...smsEvent, id: 'EVTrequiredCart', channel: 'email', template: 'cart-email', enrichment: [{ name: 'cart', resource: 'catalog', join: { sku: 'ctx.products[].sku' }, required: true }] });
    const reply = await call('POST', '/admin/templates/cart-email/preview', { ctx: { products: [{ sku: 'SKU-404', quantity: 1, price: 5 }] }, event: 'EVTrequiredCart' });
    expect(reply.status, JSON.stringify(reply.body)).toBe(200);
    expect(reply.body.event).toMatchObject({ id: 'EVTrequiredCart' });
    expect(reply.body.warnings).toEqual([expect.stringContaining('required enrichment cart found nothing')]);
  });

  it('renders the draft, or a published version with ?version=N', async () => {
    await put('templates', { kind: 'Template', id: 'versioned-email', channel: 'email', subject: 'First {{profile.firstName}}', text: 'One' });
    expect((await call('POST', '/admin/templates/versioned-email/publish')).status).toBe(200);
    await put('templates', { kind: 'Template', id: 'versioned-email', channel: 'email', subject: 'Second {{profile.firstName}}', text: 'Two' });
    expect((await call('POST', '/admin/templates/versioned-email/preview', { testProfile: 'tp-ada' })).body).toMatchObject({ subject: 'Second Ada', text: 'Two', template: { version: null } });
    expect((await call('POST', '/admin/templates/versioned-email/preview?version=1', { testProfile: 'tp-ada' })).body).toMatchObject({ subject: 'First Ada', text: 'One', template: { version: 1 } });
  });

  it('answers 422 TEMPLATE_RENDER_FAILED naming the field, 404 for what does not exist, 400 for a bad request', async () => {
    await put('templates', { kind: 'Template', id: 'broken-email', channel: 'email', subject: "{{money ctx.dims.pageName 'EUR'}}", text: 'x' });
    const broken = await call('POST', '/admin/templates/broken-email/preview', { ctx: { dims: { pageName: 'cart' } } });
    expect(broken.status).toBe(422);
    expect(broken.body.error).toMatchObject({ code: 'TEMPLATE_RENDER_FAILED', path: 'subject', message: expect.stringContaining('not an amount') });
    const notFound = async (path: string, body: unknown): Promise<void> => {
      const reply = await call('POST', path, body);
      expect(reply.status, path).toBe(404);
      expect(reply.body.error.code).toBe('DEFINITION_NOT_FOUND');
    };
    await notFound('/admin/templates/no-such-template/preview', { testProfile: 'tp-ada' });
    await notFound('/admin/templates/cart-email/preview', { testProfile: 'tp-nobody' });
    await notFound('/admin/templates/cart-email/preview?version=99', { testProfile: 'tp-ada' });
    await notFound('/admin/templates/cart-email/preview', { event: 'EVTnothing' });
    const bad = async (path: string, body: unknown, code: string): Promise<void> => {
      const reply = await call('POST', path, body);
      expect(reply.status, JSON.stringify(body)).toBe(400);
      expect(reply.body.error.code).toBe(code);
    };
    await bad('/admin/templates/cart-email/preview', { testProfile: 'tp-ada', ctx: {} }, 'ADMIN_BODY_MALFORMED');
    await bad('/admin/templates/cart-email/preview', { testProfile: 'tp-ada', extra: 1 }, 'ADMIN_BODY_MALFORMED');
    await bad('/admin/templates/cart-email/preview', '{"ctx": {"__proto__": {"x": 1}}}', 'ADMIN_BODY_MALFORMED');
    await bad('/admin/templates/cart-email/preview', { event: 'EVTcartSms' }, 'ADMIN_BODY_MALFORMED');
    await bad('/admin/templates/cart-email/preview?version=first', {}, 'ADMIN_QUERY_INVALID');
    const profile = await call('POST', '/admin/templates/cart-email/preview', { profile: { email: 'not an address' } });
    expect(profile.status).toBe(422);
    expect(profile.body.error.code).toBe('PROFILE_INVALID');
  });
});

describe('POST /admin/templates/{id}/proof', () => {
  it('sends a proof through the real channel with [PROOF]; a max-1 fatigue event still sends the real message after it', async () => {
    const { runtime } = stack.shop;
    const sent = await call('POST', '/admin/templates/cart-email/proof', { testProfile: 'tp-ada' });
    expect(sent.status, JSON.stringify(sent.body)).toBe(202);
    expect(sent.body).toMatchObject({ channel: 'email', to: 'proof-ada@example.com', status: 'processing', partition: runtime.keys.partitionOf('tp-ada') });
    const message = (await stack.shop.outbox('email')).find((m) => m.id === sent.body.id);
    expect(message).toMatchObject({ proof: true, eventId: 'proof', to: 'proof-ada@example.com', subject: '[PROOF] Ada, your cart is waiting', templateId: 'cart-email' });
    expect(message!.expiresAt - message!.firedAt).toBe(3_600_000);

    await waitFor('the proof at the SMTP server', () => stack.smtp!.received.length >= 1, 15_000, 25);
    const mail = await stack.smtp!.received[0]!.parse();
    expect(mail.subject).toBe('[PROOF] Ada, your cart is waiting');
    expect(mail.to).toMatchObject({ text: 'proof-ada@example.com' });
    expect(mail.html).toContain('Socks: 12,50');
    let record: { status?: string } = {};
    await waitFor('the proof recorded as sent', async () => (record = (await call('GET', sent.body.record as string)).body).status === 'processed', 15_000, 25);
    expect(record).toMatchObject({ id: sent.body.id, eventId: 'proof', proof: true, testProfile: 'tp-ada', templateId: 'cart-email', to: 'proof-ada@example.com' });

    // The real customer behind the test profile still gets the one message fatigue allows.
    const first = await stack.shop.fire({ visitorId: newVisitor(), aliases: { userId: 'u-ada' }, cart: [{ sku: 'SKU-1', quantity: 1, price: 89.9 }] });
    expect(await stack.shop.waitForRecord('EVTcartEmail', first, decided)).toMatchObject({ status: expect.stringMatching(/^(processing|processed)$/), profileId: 'u-ada' });
    await waitFor('the real email at the SMTP server', () => stack.smtp!.received.length >= 2, 15_000, 25);
    expect((await stack.smtp!.received[1]!.parse()).subject).toBe('Ada, your cart is waiting');
    const second = await stack.shop.fire({ visitorId: newVisitor(), aliases: { userId: 'u-ada' }, cart: [{ sku: 'SKU-2', quantity: 1, price: 12.5 }] });
    expect(await stack.shop.waitForRecord('EVTcartEmail', second, decided)).toMatchObject({ status: 'ignored', reason: 'fatigue' });
    const history = await call('GET', '/admin/profiles/u-ada/messages');
    expect(history.body.items.map((r: { status: string }) => r.status)).toEqual(['ignored', expect.stringMatching(/^(processing|processed)$/)]);
  });

  it('sends an SMS proof to the phone number of the test profile, text prefixed', async () => {
    const sent = await call('POST', '/admin/templates/cart-sms/proof', { testProfile: 'tp-amelie' });
    expect(sent.status, JSON.stringify(sent.body)).toBe(202);
    expect(sent.body).toMatchObject({ channel: 'sms', to: '+33612345678' });
    const message = (await stack.shop.outbox('sms')).find((m) => m.id === sent.body.id);
    expect(message?.text).toMatch(/^\[PROOF\] Amélie, votre panier vous attend : Trail shoes/);
    expect(message?.sms).toEqual({ encoding: 'UCS-2', segments: 2 });
    await waitFor('the SMS proof recorded as sent', async () => (await call('GET', `/admin/messages/${sent.body.id}`)).body.status === 'processed', 15_000, 25);
  });

  it('answers 422 PROOF_ADDRESS_MISSING without an address on the channel, 404 and 400 otherwise', async () => {
    await put('test-profiles', { kind: 'TestProfile', id: 'tp-nophone', name: 'No phone', address: 'nophone@example.com', profile: { firstName: 'Nora' } });
    const missing = await call('POST', '/admin/templates/cart-sms/proof', { testProfile: 'tp-nophone' });
    expect(missing.status).toBe(422);
    expect(missing.body.error).toMatchObject({ code: 'PROOF_ADDRESS_MISSING', path: 'testProfile' });
    expect((await call('POST', '/admin/templates/cart-email/proof', { testProfile: 'tp-nobody' })).body.error.code).toBe('DEFINITION_NOT_FOUND');
    expect((await call('POST', '/admin/templates/cart-email/proof', {})).status).toBe(400);
    expect((await call('POST', '/admin/templates/cart-email/proof', { profile: {} })).status).toBe(400);
  });
});

describe('preview and proof need the token', () => {
  it('answers 401 without it', async () => {
    for (const path of ['/admin/templates/cart-email/preview', '/admin/templates/cart-email/proof']) {
      const reply = await call('POST', path, { testProfile: 'tp-ada' }, null);
      expect(reply.status, path).toBe(401);
      expect(reply.body.error.code).toBe('ADMIN_UNAUTHORIZED');
    }
  });
});

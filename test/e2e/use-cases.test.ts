// The three Adobe abandonment use cases end to end (SPEC §2, §5, §6, §7), on one Redis and on a
// 3-master Redis Cluster: every role as its own `rebound start --roles <role>` process, two per
// role (ingest ×2 on their own ports, shoppers split between them; detect, campaign and deliver
// ×2; admin ×1), the demo shop applied with `rebound apply` (inactivity 2 s) and its profiles and
// catalog loaded with `rebound import`, a real SMTP and SMPP server in the test. Shoppers come
// through the Segment client (and one through Adobe image requests): cart, browse and search
// abandoners signed in, identified by email, or identified 3 s after their trigger fired; a
// French profile; an email opt-out; one profile abandoning four carts (fatigue); buyers. Every
// expected email and SMS arrives once, to the right address, in the right language, with the
// catalog's product names; nothing arrives for buyers; the admin reports say why the others were
// not sent; the dead letters are empty; every process stops cleanly.
import { randomBytes } from 'node:crypto';
import type { Analytics } from '@segment/analytics-node';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { connectRedis, type RedisPort } from '../../src/core/redis/client.js';
import { waitFor } from '../support/processes.js';
import { startSmppTestServer, type SmppTestServer } from '../deliver/smpp-test-server.js';
import { startSmtpTestServer, type SmtpTestServer } from '../deliver/smtp-test-server.js';
import { emailsOf, smsOf, type Email, type Sms } from './inbox.js';
import { admin, keysOf, readPipeline, type DeadLetters, type MessageList } from './pipeline-state.js';
import { startInstallation, type Installation } from './installation.js';
import { stopEveryChild, type RoleProcess } from './rebound-processes.js';
import { addToCart, adobeHit, buy, home, identifyByEmail, search, segmentClient, viewProducts, visit, type Identity } from './shoppers.js';
import { demoCatalog, demoProfiles, quickShopDefinitions, removeTempDirs, type Product, type Profile } from './shop-setup.js';

const profiles = demoProfiles();
const catalog = demoCatalog();
const reachable = (p: Profile): boolean => p.email !== undefined && p.phone !== undefined && !p.emailOptOut && !p.smsOptOut;
const english = profiles.filter((p) => reachable(p) && p.locale?.startsWith('en'));
const french = profiles.filter((p) => reachable(p) && p.locale?.startsWith('fr'));
const pick = (list: Profile[], i: number): Profile => list[i] as Profile;
const products = (...indexes: number[]): Product[] => indexes.map((i) => catalog[i] as Product);
const digits = (phone: string | undefined): string => (phone ?? '').replace(/^\+/, '');

/** Who does what, and what each must receive. */
const cast = {
  cartEn: { profile: pick(english, 0), cart: products(10, 11) },
  cartFr: { profile: pick(french, 0), cart: products(20, 21) },
  browseByEmail: { profile: pick(english, 1), viewed: products(30, 31) },
  search: { profile: pick(english, 2), query: 'merino scarf' },
  late: { profile: pick(english, 3), cart: products(40) },
  fatigue: { profile: pick(english, 4), carts: [products(50), products(51), products(52), products(53)] },
  buyer: { profile: pick(english, 5), cart: products(60, 61) },
  searchBuyer: { profile: pick(english, 6), cart: products(62) },
  adobe: { profile: pick(english, 7), cart: products(70) },
  optOut: { profile: profiles.find((p) => p.emailOptOut === true && p.phone !== undefined && p.smsOptOut !== true) as Profile, cart: products(80) },
};
const expectedEmails = 9; // cartEn, cartFr, browse, search, late, adobe, and 3 of the 4 fatigue carts
const expectedSms = 8; // cartEn, cartFr, browse, search, late, adobe, optOut, and 1 of the 4 fatigue carts

interface Target {
  name: string;
  env: () => Record<string, string>;
  redis: () => { url: string } | { cluster: string[] };
}

const targets: Target[] = [
  { name: 'one Redis', env: () => ({ REBOUND_REDIS_URL: inject('redisUrl') }), redis: () => ({ url: inject('redisUrl') }) },
  { name: 'a 3-master Redis Cluster', env: () => ({ REBOUND_REDIS_CLUSTER: inject('redisClusterSeeds') }), redis: () => ({ cluster: inject('redisClusterSeeds').split(',') }) },
];

afterAll(() => removeTempDirs());

describe.each(targets)('the demo shop end to end on $name, two processes per role', { timeout: 300_000 }, (target) => {
  const run = randomBytes(3).toString('hex');
  const prefix = `e2e${run}`;
  const anon = (label: string): string => `anon-${run}-${label}`;
  let installation: Installation;
  let smtp: SmtpTestServer;
  let smsc: SmppTestServer;
  let redis: RedisPort;
  let adminUrl: string;
  let emails: Email[] = [];
  let sms: Sms[] = [];
  const clientErrors: string[] = [];

  beforeAll(async () => {
    [smtp, smsc] = await Promise.all([startSmtpTestServer(), startSmppTestServer()]);
    redis = await connectRedis(target.redis(), { connectTimeoutMs: 10_000, name: 'test-e2e' });
    // No process is killed here: production recovery settings, so that only a fault could cause a resend.
    const config = { stages: { claimIdle: '15s' }, deliver: { sendTimeout: '5s', retryLease: '1m' } };
    installation = await startInstallation({ redisEnv: target.env(), prefix, definitions: quickShopDefinitions(), smtpUrl: smtp.url, smppUrl: smsc.url, config });
    adminUrl = installation.adminUrl;
    const [ingestA, ingestB] = installation.ingestUrls as [string, string];
    const clients = [segmentClient(ingestA, clientErrors), segmentClient(ingestB, clientErrors)];
    await shop(clients, ingestB);
    await identifyLate(clients[1] as Analytics);
    await Promise.all(clients.map((client) => client.closeAndFlush({ timeout: 30_000 })));
    const arrived = async (): Promise<boolean> => {
      [emails, sms] = [await emailsOf(smtp), smsOf(smsc)];
      return emails.length >= expectedEmails && sms.length >= expectedSms && (await readPipeline(redis, keysOf(prefix))).drained;
    };
    await waitFor(`${expectedEmails} emails and ${expectedSms} SMS, and the pipeline drained`, arrived, 120_000, 250).catch(async (err: unknown) => {
      throw new Error(`${(err as Error).message}: ${received().join('\n')}\n${(await readPipeline(redis, keysOf(prefix))).summary}`);
    });
  }, 300_000);

  afterAll(async () => {
    await stopEveryChild();
    await Promise.all([smtp?.stop(), smsc?.stop(), redis?.close()]);
  });

  /** What arrived, one line per message, for failure messages. */
  const received = (): string[] => [...emails.map((e) => `email to ${e.to}: ${e.subject} ${e.messageId}`), ...sms.map((m) => `SMS to ${m.to}: ${m.text}`)];

  /** Every shopper but the late identifier's identify, split between the two ingest processes. */
  async function shop(clients: Analytics[], adobeIngest: string): Promise<void> {
    const [a, b] = clients as [Analytics, Analytics];
    const signedIn = (label: string, p: Profile): Identity => ({ anonymousId: anon(label), userId: p.id });
    visit(a, signedIn('cart-en', cast.cartEn.profile), home, viewProducts(cast.cartEn.cart), addToCart(cast.cartEn.cart));
    visit(b, signedIn('cart-fr', cast.cartFr.profile), home, viewProducts(cast.cartFr.cart), addToCart(cast.cartFr.cart));
    visit(a, { anonymousId: anon('browse') }, identifyByEmail(cast.browseByEmail.profile.email as string), home, viewProducts(cast.browseByEmail.viewed));
    visit(b, signedIn('search', cast.search.profile), home, search(cast.search.query));
    visit(a, { anonymousId: anon('late') }, home, viewProducts(cast.late.cart), addToCart(cast.late.cart));
    cast.fatigue.carts.forEach((cart, i) => visit(i % 2 === 0 ? a : b, signedIn(`fatigue-${i}`, cast.fatigue.profile), home, addToCart(cart)));
    visit(b, signedIn('buyer', cast.buyer.profile), home, viewProducts(cast.buyer.cart), addToCart(cast.buyer.cart), buy(cast.buyer.cart));
    visit(a, signedIn('search-buyer', cast.searchBuyer.profile), search('linen shirt'), viewProducts(cast.searchBuyer.cart), addToCart(cast.searchBuyer.cart), buy(cast.searchBuyer.cart));
    visit(b, signedIn('opt-out', cast.optOut.profile), home, addToCart(cast.optOut.cart));
    visit(a, { anonymousId: anon('never-known') }, home, viewProducts(products(90)), addToCart(products(90)));
    await Promise.all([a.flush({ timeout: 30_000 }), b.flush({ timeout: 30_000 })]);
    const sku = (cast.adobe.cart[0] as Product).sku;
    const mid = anon('adobe');
    const statuses = [
      await adobeHit(adobeIngest, { mid, pageName: 'Product', events: 'prodView', products: `;${sku}`, 'cid.userId.id': cast.adobe.profile.id }),
      await adobeHit(adobeIngest, { mid, pageName: 'Cart', events: 'scAdd', products: `;${sku};1;${(cast.adobe.cart[0] as Product).price}`, 'cid.userId.id': cast.adobe.profile.id }),
    ];
    expect(statuses).toEqual([200, 200]);
  }

  /** Waits for the late shopper's message to wait for an identity, then identifies 3 s after the trigger fired. */
  async function identifyLate(client: Analytics): Promise<void> {
    let firedAt = 0;
    await waitFor(
      'the anonymous cart abandoner waiting for an identity',
      async () => {
        const list = await admin<MessageList>(adminUrl, 'GET', '/admin/events/EVTcartAbandonmentEmail/messages?status=pending&limit=100');
        const waiting = list.items.find((item) => item.visitorId === anon('late') && item.reason === 'awaitingIdentity');
        firedAt = waiting?.timestamps.firedAt ?? 0;
        return waiting !== undefined;
      },
      60_000,
      200,
    );
    await new Promise((r) => setTimeout(r, Math.max(0, firedAt + 3000 - Date.now())));
    client.identify({ anonymousId: anon('late'), userId: cast.late.profile.id });
    await client.flush({ timeout: 30_000 });
  }

  const emailsTo = (p: Profile): Email[] => emails.filter((e) => e.to === p.email);
  const smsTo = (p: Profile): Sms[] => sms.filter((s) => s.to === digits(p.phone));

  it('applied the 18 definitions, imported 200 profiles and 500 catalog rows, and accepted every Segment call', () => {
    expect(clientErrors).toEqual([]);
    expect(installation.setupLog[0]).toMatch(/^18 created, 0 changed/);
    expect(installation.setupLog.slice(1)).toEqual([expect.stringMatching(/: 200 accepted, 0 rejected$/), expect.stringMatching(/: 500 accepted, 0 rejected$/)]);
  });

  it('sends the cart email once, in English, naming the catalog products of the cart, and the cart SMS once', () => {
    const { profile, cart } = cast.cartEn;
    const [mail, ...more] = emailsTo(profile);
    expect(more).toEqual([]);
    expect(mail?.subject).toBe(`${profile.firstName}, your cart is waiting`);
    for (const p of cart) expect(mail?.text).toContain(p.name);
    expect(mail?.text).toContain('Your cart at Demo Shop is still waiting for you');
    const texts = smsTo(profile).map((s) => s.text);
    expect(texts).toHaveLength(1);
    expect(texts[0]).toMatch(new RegExp(`^${profile.firstName}, your Demo Shop cart is waiting: `));
    expect(cart.some((p) => texts[0]?.includes(p.name.slice(0, 30)))).toBe(true);
  });

  it('writes to the French profile in French, email and SMS', () => {
    const { profile, cart } = cast.cartFr;
    const [mail, ...more] = emailsTo(profile);
    expect(more).toEqual([]);
    expect(mail?.subject).toBe(`${profile.firstName}, votre panier vous attend`);
    expect(mail?.html).toContain('<html lang="fr">');
    expect(mail?.text).toContain('Votre panier Demo Shop vous attend');
    for (const p of cart) expect(mail?.text).toContain(p.name);
    const texts = smsTo(profile).map((s) => s.text);
    expect(texts).toHaveLength(1);
    expect(texts[0]).toMatch(new RegExp(`^${profile.firstName}, votre panier Demo Shop vous attend : `));
    expect(texts[0]).toContain('STOP pour ne plus recevoir de SMS');
  });

  it('reconciles a browse abandoner by the email address of an identify call, with the viewed products', () => {
    const { profile, viewed } = cast.browseByEmail;
    const [mail, ...more] = emailsTo(profile);
    expect(more).toEqual([]);
    expect(mail?.subject).toBe(`${profile.firstName}, still thinking it over?`);
    for (const p of viewed) expect(mail?.text).toContain(p.name);
    const texts = smsTo(profile).map((s) => s.text);
    expect(texts).toHaveLength(1);
    expect(viewed.some((p) => texts[0]?.startsWith(`${profile.firstName}, still thinking about ${p.name}?`))).toBe(true);
  });

  it('sends the search abandoner the term searched, by email and SMS', () => {
    const { profile, query } = cast.search;
    const [mail, ...more] = emailsTo(profile);
    expect(more).toEqual([]);
    expect(mail?.subject).toBe(`${profile.firstName}, still looking for ${query}?`);
    expect(smsTo(profile).map((s) => s.text)).toEqual([`${profile.firstName}, still looking for ${query}? https://shop.example.com/search?q=${encodeURIComponent(query)} Reply STOP to opt out`]);
  });

  it('reaches a shopper who identified 3 s after the trigger fired', () => {
    const { profile, cart } = cast.late;
    const [mail, ...more] = emailsTo(profile);
    expect(more).toEqual([]);
    expect(mail?.subject).toBe(`${profile.firstName}, your cart is waiting`);
    expect(mail?.text).toContain((cart[0] as Product).name);
    expect(smsTo(profile)).toHaveLength(1);
  });

  it('reaches a shopper tracked with Adobe image requests and a customer id', () => {
    const { profile, cart } = cast.adobe;
    const [mail, ...more] = emailsTo(profile);
    expect(more).toEqual([]);
    expect(mail?.text).toContain((cart[0] as Product).name);
    expect(smsTo(profile)).toHaveLength(1);
  });

  it('sends no email to a profile opted out of email, still the SMS, and the report says why', async () => {
    const { profile } = cast.optOut;
    expect(emailsTo(profile)).toEqual([]);
    expect(smsTo(profile)).toHaveLength(1);
    const records = await admin<MessageList>(adminUrl, 'GET', `/admin/profiles/${profile.id}/messages`);
    expect(records.items.map((r) => [r.eventId, r.status, r.reason])).toEqual(
      expect.arrayContaining([
        ['EVTcartAbandonmentEmail', 'ignored', 'optOut'],
        ['EVTcartAbandonmentSms', 'processed', undefined],
      ]),
    );
  });

  it('applies fatigue across processes: four abandoned carts of one profile give 3 emails (max 3/h) and 1 SMS (max 1/h)', async () => {
    const { profile } = cast.fatigue;
    const mails = emailsTo(profile);
    expect(mails).toHaveLength(3);
    expect(new Set(mails.map((m) => m.messageId)).size).toBe(3);
    expect(smsTo(profile)).toHaveLength(1);
    const records = await admin<MessageList>(adminUrl, 'GET', `/admin/profiles/${profile.id}/messages?limit=100`);
    const outcomes = records.items.map((r) => `${r.eventId} ${r.status} ${r.reason ?? ''}`.trim()).sort();
    expect(outcomes).toEqual([
      'EVTcartAbandonmentEmail ignored fatigue',
      ...Array(3).fill('EVTcartAbandonmentEmail processed'),
      ...Array(3).fill('EVTcartAbandonmentSms ignored fatigue'),
      'EVTcartAbandonmentSms processed',
    ]);
  });

  it('sends nothing to shoppers who bought, and nothing to a visitor never identified', async () => {
    for (const p of [cast.buyer.profile, cast.searchBuyer.profile]) {
      expect(emailsTo(p)).toEqual([]);
      expect(smsTo(p)).toEqual([]);
      expect((await admin<MessageList>(adminUrl, 'GET', `/admin/profiles/${p.id}/messages`)).items).toEqual([]);
    }
    const waiting = await admin<MessageList>(adminUrl, 'GET', '/admin/events/EVTcartAbandonmentEmail/messages?limit=100');
    expect(waiting.items.filter((r) => r.visitorId === anon('never-known')).map((r) => [r.status, r.reason])).toEqual([['pending', 'awaitingIdentity']]);
  });

  it('sent every email and SMS exactly once, nothing else, and dead-lettered nothing', async () => {
    expect(received()).toHaveLength(expectedEmails + expectedSms);
    expect(new Set(received()).size).toBe(expectedEmails + expectedSms);
    const known = new Set(Object.values(cast).map((c) => c.profile.email));
    expect(emails.filter((e) => !known.has(e.to))).toEqual([]);
    expect(await admin<DeadLetters>(adminUrl, 'GET', '/admin/dlq')).toMatchObject({ total: 0 });
  });

  it('kept every process running, and each stops cleanly on SIGTERM', async () => {
    const { fleet } = installation;
    expect(fleet.crashed(new Set<RoleProcess>())).toEqual([]);
    expect(fleet.processes).toHaveLength(9);
    const codes = await fleet.stopAll();
    expect(codes.filter((c) => c.code !== 0)).toEqual([]);
  });
});

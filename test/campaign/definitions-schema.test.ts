// Campaign definitions as documents (SPEC §6.1, §6.6): the Event and TestProfile kinds accept
// Adobe's examples and refuse every mistake with its path in one error; context paths are parsed
// once and read through own properties only.
import { describe, expect, it } from 'vitest';
import { isReboundError } from '../../src/core/errors.js';
import { parseEvent, parsePath, parsePathOrProblem, readPath } from '../../src/model/event.js';
import { parseTestProfile, previewContext } from '../../src/model/test-profile.js';
import { browseEvent, cartEvent } from './definitions-fixtures.js';

function eventProblems(document: unknown): string[] {
  try {
    parseEvent(document);
  } catch (err) {
    expect(isReboundError(err, 'EVENT_INVALID')).toBe(true);
    expect((err as { status: number }).status).toBe(422);
    return (err as Error).message.split('\n').slice(1).map((line) => line.trim());
  }
  throw new Error('expected EVENT_INVALID');
}

function profileProblems(document: unknown): string[] {
  try {
    parseTestProfile(document);
  } catch (err) {
    expect(isReboundError(err, 'TEST_PROFILE_INVALID')).toBe(true);
    return (err as Error).message.split('\n').slice(1).map((line) => line.trim());
  }
  throw new Error('expected TEST_PROFILE_INVALID');
}

describe('parseEvent', () => {
  it("accepts SPEC's cart abandonment event with its paths parsed once", () => {
    const event = parseEvent(cartEvent);
    expect(event).toMatchObject({ id: 'EVTcartAbandonment', channel: 'email', targeting: 'profile', validityMs: 2 * 86_400_000, status: 'draft', template: 'cart-abandonment-email' });
    expect(event.reconciliation).toEqual([{ alias: 'userId', profileField: 'id' }, { alias: 'email', profileField: 'email', hash: 'sha256' }, { visitorLink: true }]);
    expect(event.fatigue).toEqual([
      { max: 1, per: 86_400_000, channel: 'email' },
      { max: 3, per: 7 * 86_400_000, channel: 'all' },
    ]);
    expect(event.enrichment[0]).toMatchObject({ name: 'cart', resource: 'catalog', key: 'sku', join: { sku: 'ctx.products[].sku' }, required: false });
    expect(event.enrichment[0]?.path).toMatchObject({ root: 'ctx', segments: ['products'], list: true, rest: ['sku'] });
    expect(Object.isFrozen(event.enrichment)).toBe(true);
  });

  it('accepts an event-based sms event and defaults validity to 2d', () => {
    const event = parseEvent(browseEvent);
    expect(event.recipient).toMatchObject({ phone: 'ctx.dims.eVar9', path: { root: 'ctx', segments: ['dims', 'eVar9'], list: false } });
    expect(event.validityMs).toBe(2 * 86_400_000);
    expect(event.reconciliation).toEqual([]);
    expect(event.fatigue).toEqual([]);
  });

  it('refuses push with the exact Adobe-like message', () => {
    expect(eventProblems({ ...cartEvent, channel: 'push' })).toEqual(['channel: push notifications are not supported for triggers; use email or sms']);
  });

  it('requires the EVT prefix and at most 64 characters', () => {
    expect(eventProblems({ ...cartEvent, id: 'cartAbandonment' })[0]).toMatch(/^id: an event id starts with EVT/);
    expect(eventProblems({ ...cartEvent, id: `EVT${'x'.repeat(62)}` })[0]).toMatch(/^id: /);
    expect(parseEvent({ ...cartEvent, id: `EVT${'x'.repeat(61)}` }).id).toHaveLength(64);
  });

  it('refuses fatigue rules and quiet hours on an event-based event, as Adobe does', () => {
    const found = eventProblems({ ...browseEvent, typology: { fatigue: [{ max: 1, per: '24h' }], quietHours: { from: '21:00', to: '08:00', action: 'delay' } } });
    expect(found).toEqual([
      'typology.fatigue: fatigue rules apply to profile-based events only (targeting: profile), as in Adobe Campaign',
      "typology.quietHours: quiet hours apply to profile-based events only (targeting: profile): they use the profile's timezone",
    ]);
  });

  it('checks targeting against reconciliation and recipient', () => {
    expect(eventProblems({ ...cartEvent, reconciliation: [] })).toEqual([expect.stringMatching(/^reconciliation: a profile-based event needs at least one reconciliation source/)]);
    expect(eventProblems({ ...cartEvent, recipient: { email: 'ctx.dims.eVar9' } })).toEqual([expect.stringMatching(/^recipient: recipient is for targeting: event/)]);
    expect(eventProblems({ ...browseEvent, recipient: undefined })).toEqual([expect.stringMatching(/^recipient: an event-based sms event takes its address from the payload: recipient: \{phone: <path>\}/)]);
    expect(eventProblems({ ...browseEvent, recipient: { email: 'ctx.dims.eVar9' } })[0]).toMatch(/^recipient: .*\{phone: <path>\}/);
    expect(eventProblems({ ...browseEvent, recipient: { phone: 'profile.phone' } })).toEqual(['recipient.phone: the recipient is read from the payload: a path starting with ctx.']);
    expect(eventProblems({ ...browseEvent, recipient: { phone: 'ctx.products[].phone' } })).toEqual(['recipient.phone: a recipient is one address, not a list']);
  });

  it('lists every problem with its path at once', () => {
    const found = eventProblems({
      ...cartEvent,
      trigger: '',
      reconciliation: [{ alias: 'userId' }, { visitorLink: true, alias: 'x' }, { alias: 'email', profileField: 'email', hash: 'md5' }],
      validity: '45d',
      typology: { fatigue: [{ max: 0, per: 'soon' }], quietHours: { from: '25:00', to: '08:00' } },
      template: 'Cart Email',
      colour: 'red',
    });
    expect(found).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^trigger: /),
        'reconciliation.0.profileField: which profile field the alias matches (id, email, …)',
        'reconciliation.1: {visitorLink: true} stands alone (no alias, profileField or hash)',
        'reconciliation.2.hash: the only supported hash is sha256',
        'validity: validity goes from 1s to 30d',
        expect.stringMatching(/^typology\.fatigue\.0\.max: /),
        'typology.fatigue.0.per: "soon" is not a duration such as 30m, 12h or 2d',
        expect.stringMatching(/^typology\.quietHours\.from: a time of day HH:MM/),
        expect.stringMatching(/^template: a template id/),
        expect.stringMatching(/^\(top level\): Unrecognized key.*colour/),
      ]),
    );
    expect(found).toHaveLength(10);
  });

  it('checks enrichment paths: roots, order, lists of lists, prototype segments', () => {
    const withEnrichment = (enrichment: unknown[]) => eventProblems({ ...cartEvent, enrichment });
    expect(withEnrichment([{ name: 'cart', resource: 'catalog', join: { sku: 'ctx.products[].variants[].sku' } }])).toEqual([
      'enrichment.0.join.sku: lists of lists are not supported: at most one [] in a path',
    ]);
    expect(withEnrichment([{ name: 'brand', resource: 'brands', join: { id: 'cart[].brandId' } }, { name: 'cart', resource: 'catalog', join: { sku: 'ctx.products[].sku' } }])).toEqual([
      'enrichment.0.join.id: enrichment "cart" comes later: a join may use ctx, profile or an earlier enrichment',
    ]);
    expect(withEnrichment([{ name: 'x', resource: 'stores', join: { id: 'visitor.storeId' } }])[0]).toBe(
      'enrichment.0.join.id: unknown root "visitor": a path starts with ctx., profile. or an earlier enrichment\'s name',
    );
    expect(withEnrichment([{ name: 'x', resource: 'stores', join: { id: 'ctx.__proto__.polluted' } }])).toEqual(
      expect.arrayContaining(['enrichment.0.join.id: "ctx.__proto__.polluted" reaches "__proto__", which is not accessible']),
    );
    expect(withEnrichment([{ name: 'x', resource: 'stores', join: { id: 'ctx.dims.constructor' } }])).toEqual(['enrichment.0.join.id: "ctx.dims.constructor" reaches "constructor", which is not accessible']);
    expect(withEnrichment([{ name: 'x', resource: 'stores', join: { id: 'ctx.dims.toString' } }])).toEqual(['enrichment.0.join.id: "ctx.dims.toString" reaches "toString", which is not accessible']);
    const listThenRow = withEnrichment([
      { name: 'cart', resource: 'catalog', join: { sku: 'ctx.products[].sku' } },
      { name: 'brand', resource: 'brands', join: { id: 'cart.brandId' } },
      { name: 'tags', resource: 'tags', join: { id: 'cart[].tags[]' } },
      { name: 'store', resource: 'stores', join: { id: 'profile.storeId' } },
      { name: 'city', resource: 'cities', join: { id: 'store[].cityId' } },
    ]);
    expect(listThenRow).toEqual([
      'enrichment.1.join.id: cart is a list (one row per item): write cart[].<field>',
      'enrichment.2.join.id: lists of lists are not supported: at most one [] in a path',
      'enrichment.4.join.id: store is one row, not a list',
    ]);
    expect(withEnrichment([{ name: 'profile', resource: 'x', join: { a: 'ctx.b', c: 'ctx.d' } }])).toEqual([
      'enrichment.0.name: "profile" is a name templates have already (ctx, profile, event, links)',
      'enrichment.0.join: a join maps the resource key field to one path, e.g. join: {sku: ctx.products[].sku}',
    ]);
    const chained = parseEvent({
      ...cartEvent,
      enrichment: [
        { name: 'cart', resource: 'catalog', join: { sku: 'ctx.products[].sku' }, required: true },
        { name: 'brands', resource: 'brands', join: { id: 'cart[].brandId' } },
      ],
    });
    expect(chained.enrichment[1]?.path).toMatchObject({ root: 'cart', segments: [], list: true, rest: ['brandId'] });
  });

  it('refuses profile paths on an event-based event without reconciliation', () => {
    expect(eventProblems({ ...browseEvent, enrichment: [{ name: 'store', resource: 'stores', join: { id: 'profile.storeId' } }] })).toEqual([
      'enrichment.0.join.id: profile is not available: this event-based event has no reconciliation source',
    ]);
  });

  it('refuses prototype keys anywhere in the document', () => {
    const hostile = JSON.parse('{"kind":"Event","id":"EVTx","trigger":"t","channel":"email","targeting":"event","recipient":{"email":"ctx.dims.e","__proto__":{"polluted":1}},"template":"t"}') as unknown;
    expect(eventProblems(hostile)).toEqual(expect.arrayContaining(['recipient.__proto__: prototype keys are refused']));
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});

describe('context paths', () => {
  it('parses a path once into root, segments, list and rest', () => {
    expect(parsePath('ctx.products[].sku')).toMatchObject({ text: 'ctx.products[].sku', root: 'ctx', segments: ['products'], list: true, rest: ['sku'] });
    expect(parsePath('profile.storeId')).toMatchObject({ root: 'profile', segments: ['storeId'], list: false, rest: [] });
    expect(parsePath('ctx.dims.pageName[]')).toMatchObject({ segments: ['dims', 'pageName'], list: true, rest: [] });
    expect(parsePathOrProblem('ctx')).toMatch(/is not a path/);
    expect(parsePathOrProblem('ctx.products[0].sku')).toMatch(/indexes are not supported/);
    expect(parsePathOrProblem('ctx..sku')).toMatch(/empty segment/);
    expect(() => parsePath('ctx.a[].b[]')).toThrow(/lists of lists/);
  });

  it('reads own properties only, per item for a list', () => {
    const context = { ctx: { products: [{ sku: 'A' }, { name: 'no sku' }, { sku: 'C' }], dims: { eVar9: '+33612345678' } }, profile: { storeId: 7 } };
    expect(readPath(context, parsePath('ctx.products[].sku'))).toEqual(['A', undefined, 'C']);
    expect(readPath(context, parsePath('ctx.dims.eVar9'))).toBe('+33612345678');
    expect(readPath(context, parsePath('profile.storeId'))).toBe(7);
    expect(readPath(context, parsePath('profile.missing.deeper'))).toBeUndefined();
    expect(readPath(context, parsePath('ctx.dims[].x'))).toBeUndefined();
    // Inherited members are never reached, whatever the data: a path that parses cannot name them,
    // and an own-property walk ignores what an object inherits.
    const inherited = Object.create({ secret: 'from the prototype' }) as Record<string, unknown>;
    expect(readPath({ ctx: inherited }, parsePath('ctx.secret'))).toBeUndefined();
    expect(readPath({ ctx: { items: 'abc' } }, parsePath('ctx.items.length'))).toBeUndefined();
  });
});

describe('parseTestProfile', () => {
  const amelie = {
    kind: 'TestProfile',
    id: 'tp-amelie',
    name: 'Amélie (test)',
    address: 'proof-amelie@example.com',
    profile: { firstName: 'Amélie', locale: 'fr' },
    event: { products: [{ sku: 'SKU-1', quantity: 1, price: 89.9 }], dims: { pageName: 'cart' } },
  };

  it("accepts SPEC's example and builds its preview context", () => {
    const tp = parseTestProfile(amelie);
    expect(tp).toMatchObject({ id: 'tp-amelie', name: 'Amélie (test)', address: 'proof-amelie@example.com', addressKind: 'email', profile: { firstName: 'Amélie', locale: 'fr' } });
    const context = previewContext(tp, { id: 'EVTcartAbandonment', trigger: 'cart-abandonment' }, 1000);
    expect(context.ctx).toMatchObject({ products: [{ sku: 'SKU-1', quantity: 1, price: 89.9 }], dims: { pageName: 'cart' }, firedAt: 1000 });
    expect(context.profile).toMatchObject({ firstName: 'Amélie', email: 'proof-amelie@example.com' });
    expect(context.event).toEqual({ id: 'EVTcartAbandonment', trigger: 'cart-abandonment' });
  });

  it('normalises a phone address', () => {
    expect(parseTestProfile({ ...amelie, address: '+33 6 12 34 56 78' })).toMatchObject({ address: '+33612345678', addressKind: 'phone' });
  });

  it('lists every problem with its path', () => {
    const found = profileProblems({ ...amelie, id: 'TP Amélie', address: 'nobody', event: { products: [{ quantity: 1 }], dims: 'cart' }, extra: true });
    expect(found).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^id: a slug/),
        expect.stringMatching(/^event\.products\.0\.sku: Required/),
        expect.stringMatching(/^event\.dims: Expected object/),
        expect.stringMatching(/^\(top level\): Unrecognized key.*extra/),
      ]),
    );
    expect(profileProblems({ ...amelie, address: 'nobody' })).toEqual(['address: an email address (proof@example.com) or a phone number (+33612345678)']);
  });

  it('refuses prototype keys and oversized documents', () => {
    const hostile = JSON.parse('{"kind":"TestProfile","id":"tp","name":"x","address":"a@b.co","profile":{"__proto__":{"admin":true}}}') as unknown;
    expect(profileProblems(hostile)).toEqual(expect.arrayContaining(['profile.__proto__: prototype keys are refused']));
    expect(profileProblems({ ...amelie, profile: { blob: 'x'.repeat(70_000) } })).toEqual(['(top level): a test profile is at most 64 KB of JSON']);
  });
});

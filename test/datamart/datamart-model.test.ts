// Validation of the datamart's documents as a user meets it: a profile, a kind: Resource
// definition, a resource row, a suppression entry; every problem reported with its path, values
// normalised the way lookups and the suppression list compare them.
import { describe, expect, it } from 'vitest';
import { isReboundError, type ReboundError } from '../../src/core/errors.js';
import { indexValue, parseProfile } from '../../src/model/profile.js';
import { catalogResource, parseResource, parseResourceRow } from '../../src/model/resource.js';
import { normalizeSuppressions } from '../../src/model/suppressions.js';

function errorOf(run: () => unknown): ReboundError {
  try {
    run();
  } catch (err) {
    if (isReboundError(err)) return err;
    throw err;
  }
  throw new Error('expected a ReboundError');
}

describe('parseProfile', () => {
  it('normalises the standard fields and keeps custom JSON fields', () => {
    const profile = parseProfile({
      id: 'p1',
      email: '  Jane.Doe@Example.COM ',
      phone: '+33 (6) 12-34.56.78',
      firstName: 'Jane',
      locale: 'fr_fr',
      timezone: 'europe/paris',
      emailOptOut: false,
      smsOptOut: true,
      denylisted: false,
      loyalty: { tier: 'gold', points: 1200, tags: ['a', null] },
      storeId: 42,
    });
    expect(profile).toEqual({
      id: 'p1',
      email: 'jane.doe@example.com',
      phone: '+33612345678',
      firstName: 'Jane',
      locale: 'fr-FR',
      timezone: 'Europe/Paris',
      emailOptOut: false,
      smsOptOut: true,
      denylisted: false,
      loyalty: { tier: 'gold', points: 1200, tags: ['a', null] },
      storeId: 42,
    });
  });

  it('treats null as an unset standard field', () => {
    expect(parseProfile({ id: 'p1', email: null, phone: null })).toEqual({ id: 'p1' });
  });

  it('reports every problem with its path in one PROFILE_INVALID error', () => {
    const err = errorOf(() =>
      parseProfile({ email: 'not-an-address', phone: '+33 6 CALL ME', locale: 'not a tag!', timezone: 'Mars/Olympus', emailOptOut: 'yes', firstName: 7 }),
    );
    expect(err.code).toBe('PROFILE_INVALID');
    expect(err.status).toBe(422);
    expect(err.path).toBe('id');
    for (const line of ['id: required', 'email: not an email address', 'phone: not a phone number', 'locale: not a language tag', 'timezone: not an IANA time zone', 'emailOptOut: expected true or false', 'firstName: expected a string']) {
      expect(err.message).toContain(line);
    }
  });

  it('limits the id to 256 characters and requires text', () => {
    expect(errorOf(() => parseProfile({ id: 'x'.repeat(257) })).message).toContain('id: at most 256 characters');
    expect(errorOf(() => parseProfile({ id: 12 })).message).toContain('id: expected a non-empty string');
    expect(parseProfile({ id: 'x'.repeat(256) }).id).toHaveLength(256);
  });

  it('refuses prototype keys at any depth, with their path', () => {
    const top = errorOf(() => parseProfile(JSON.parse('{"id":"p","__proto__":{"admin":true}}')));
    expect(top.path).toBe('__proto__');
    expect(top.message).toContain('__proto__: prototype keys are refused');
    const deep = errorOf(() => parseProfile(JSON.parse('{"id":"p","prefs":{"list":[{"constructor":{"x":1}}]}}')));
    expect(deep.path).toBe('prefs.list.0.constructor');
    expect(({} as Record<string, unknown>).admin).toBeUndefined();
  });

  it('refuses deep nesting and oversized profiles', () => {
    let nested: unknown = 'leaf';
    for (let i = 0; i < 20; i++) nested = { n: nested };
    expect(errorOf(() => parseProfile({ id: 'p', nested })).message).toMatch(/nested\.(n\.)+n: nested deeper than 16 levels/);
    const big = errorOf(() => parseProfile({ id: 'p', notes: 'x'.repeat(70_000) }));
    expect(big.message).toMatch(/the profile is \d+ bytes as JSON; at most 65536/);
  });

  it('refuses a profile that is not an object', () => {
    for (const raw of [null, [], 'p1', 3]) expect(errorOf(() => parseProfile(raw)).message).toContain('a profile is a JSON object');
  });

  it('indexes the normalised form of a value', () => {
    expect(indexValue('email', ' A@B.CO ')).toBe('a@b.co');
    expect(indexValue('phone', '+1 (555) 010-0000')).toBe('+15550100000');
    expect(indexValue('shopperId', ' S-1 ')).toBe('S-1');
    expect(indexValue('shopperId', 1234)).toBe('1234');
    expect(indexValue('shopperId', { nested: true })).toBeUndefined();
    expect(indexValue('email', 'nope')).toBeUndefined();
  });
});

describe('parseResource', () => {
  it('accepts a slug and a key field', () => {
    expect(parseResource({ kind: 'Resource', id: 'stores', key: 'storeId' })).toEqual({ kind: 'Resource', id: 'stores', key: 'storeId' });
  });

  it('reports every problem with its path in one RESOURCE_INVALID error', () => {
    const err = errorOf(() => parseResource({ kind: 'Resource', id: 'Bad Name', key: '1field', extra: true }));
    expect(err.code).toBe('RESOURCE_INVALID');
    expect(err.message).toContain('id: a slug');
    expect(err.message).toContain('key: a field name');
    expect(err.message).toContain("Unrecognized key(s) in object: 'extra'");
  });

  it('keeps the built-in catalog keyed by sku', () => {
    expect(errorOf(() => parseResource({ kind: 'Resource', id: 'catalog', key: 'ean' })).message).toContain('key: catalog is built in and keyed by sku');
    expect(parseResource({ kind: 'Resource', id: 'catalog', key: 'sku' }).key).toBe('sku');
  });
});

describe('parseResourceRow', () => {
  it('takes the key from the key field (text or integer)', () => {
    expect(parseResourceRow(catalogResource, { sku: 'SKU-1', name: 'Shoe', price: 59.9 })).toEqual({ key: 'SKU-1', row: { sku: 'SKU-1', name: 'Shoe', price: 59.9 } });
    expect(parseResourceRow({ kind: 'Resource', id: 'stores', key: 'storeId' }, { storeId: 12 }).key).toBe('12');
  });

  it('reports a missing or bad key and prototype keys with their paths', () => {
    const missing = errorOf(() => parseResourceRow(catalogResource, { name: 'no sku' }));
    expect(missing.code).toBe('RESOURCE_ROW_INVALID');
    expect(missing.path).toBe('sku');
    expect(errorOf(() => parseResourceRow(catalogResource, { sku: 1.5 })).message).toContain('sku: a number key must be an integer');
    expect(errorOf(() => parseResourceRow(catalogResource, { sku: ' ' })).message).toContain('sku: expected a non-empty string or an integer');
    const hostile = errorOf(() => parseResourceRow(catalogResource, JSON.parse('{"sku":"A","meta":{"__proto__":{"x":1}}}')));
    expect(hostile.path).toBe('meta.__proto__');
  });
});

describe('suppression entries', () => {
  it('normalise addresses and numbers the way profiles do', () => {
    expect(normalizeSuppressions([' Jane@Example.com', '+44 20 7946 0000'])).toEqual(['jane@example.com', '+442079460000']);
  });

  it('refuse anything else, naming the entry', () => {
    const err = errorOf(() => normalizeSuppressions(['ok@example.com', 'hello', 3]));
    expect(err.code).toBe('SUPPRESSION_INVALID');
    expect(err.index).toBe(1);
  });
});

// Reading trigger log entries as the campaign stage does: the record decoded from what
// encodeFiredRecord (the same layout as lua/detect-fire.lua) wrote, and the cart read as entries
// of its JSON object exactly as Object.entries(JSON.parse(…)) would, whatever the text.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { jsonObjectEntries } from '../../src/model/json-entries.js';
import { decodeFiredRecord, encodeFiredRecord, type FiredRecord } from '../../src/model/trigger-message.js';

function reference(text: string): { ok: unknown } | { error: string } {
  try {
    return { ok: Object.entries(JSON.parse(text) as object) };
  } catch (err) {
    return { error: (err as Error).constructor.name };
  }
}

function entries(text: string): { ok: unknown } | { error: string } {
  try {
    return { ok: jsonObjectEntries(text) };
  } catch (err) {
    return { error: (err as Error).constructor.name };
  }
}

const record: FiredRecord = {
  triggerId: 'tid-cart',
  triggerName: 'cart-abandonment',
  version: 3,
  source: 'shop-web',
  visitorId: 'v-1',
  firedAt: 1_800_000_000_000,
  firstHitTs: 1_799_999_000_000,
  lastHitTs: 1_799_999_500_000,
  path: [{ container: 0, ts: 1_799_999_500_000 }],
  metadata: { pageName: ['cart', 'checkout'], eVar9: ['a@example.com'] },
  cart: [
    { sku: 'SKU-2', quantity: 2, price: 9.5, name: 'Mug {big}', category: 'home' },
    { sku: '10', quantity: 1 },
    { sku: 'x"y', quantity: 1, price: 1 },
  ],
  aliases: { userId: 'u-1' },
  type: 'abandonment',
  visit: { number: 7, slot: 2 },
};

describe('trigger log records as the campaign stage reads them', () => {
  it('decodes what was written, the cart in the order a parsed object lists it', () => {
    const decoded = decodeFiredRecord(encodeFiredRecord(record));
    // An sku that is an array index ('10') comes first, as it does in a parsed JSON object.
    expect(decoded).toEqual({ ...record, cart: [record.cart[1], record.cart[0], record.cart[2]] });
  });

  it('drops cart lines whose quantity is not above zero, and reads empty fields as empty', () => {
    const decoded = decodeFiredRecord(encodeFiredRecord({ ...record, cart: [{ sku: 'a', quantity: 0 }, { sku: 'b', quantity: 1 }], metadata: {}, aliases: {}, path: [] }));
    expect(decoded.cart).toEqual([{ sku: 'b', quantity: 1 }]);
    expect(decoded.metadata).toEqual({});
    expect(decoded.aliases).toEqual({});
    expect(decoded.path).toEqual([]);
  });

  it('reads the entries of any JSON object text as Object.entries(JSON.parse(text)) does, and fails where it fails', () => {
    const same = (text: string): void => {
      expect(entries(text)).toEqual(reference(text));
    };
    fc.assert(fc.property(fc.json(), same), { numRuns: 2000 });
    fc.assert(fc.property(fc.dictionary(fc.string(), fc.jsonValue()), (o) => {
      same(JSON.stringify(o));
      same(JSON.stringify(o, null, 2));
    }), { numRuns: 2000 });
    const tokens = ['{', '}', '[', ']', ':', ',', '"a"', '"b"', '"1"', '"x\\"y"', '1', 'null', ' ', '\n', 'tru', '"', '\\', '{"q":1}'];
    fc.assert(fc.property(fc.array(fc.constantFrom(...tokens), { maxLength: 14 }), (parts) => same(parts.join(''))), { numRuns: 5000 });
    for (const text of ['{"a":1,"a":2}', '{"b":1,"2":2}', '{"__proto__":{"q":1}}', '{,"a":1}', '{"a":1,}', ' {"a" : [1,{"b":"}"}] } ', '{}', '[]', '"s"', 'null']) same(text);
  });
});

// The hit-specialised entry writer: whatever the hits carry, decodeHits (the generic decoder detect
// uses) reads back what the generic encoder would have stored.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decode, encode } from '../../src/core/codec.js';
import { HitEntryBuilder, encodeHitEntry } from '../../src/model/hit-encoder.js';
import { decodeHits, hitTypes, type Hit } from '../../src/model/hit.js';

// Hits are plain objects (JSON.parse, the mappers): no null-prototype records.
const text = fc.oneof(fc.string({ maxLength: 40 }), fc.string({ unit: 'binary', maxLength: 80 }), fc.string({ minLength: 60, maxLength: 300 }));
const scalar = fc.oneof(text, fc.integer({ min: -(2 ** 40), max: 2 ** 40 }), fc.double(), fc.boolean());
const key = fc.oneof(fc.constantFrom('a', 'b', 'page.title', '0', '12', 'context.ip'), fc.string({ maxLength: 12 })).filter((k) => k !== '__proto__');
const product = fc.record({ sku: text, name: text, category: text, quantity: fc.integer({ min: 0, max: 300 }), price: fc.double({ noNaN: true }) }, { requiredKeys: ['sku'], noNullPrototype: true });
const hit: fc.Arbitrary<Hit> = fc.record(
  {
    id: text,
    source: text,
    visitorId: text,
    aliases: fc.dictionary(key, text, { maxKeys: 3, noNullPrototype: true }),
    ts: fc.oneof(fc.integer({ min: 0, max: 2 ** 45 }), fc.double()),
    receivedAt: fc.integer({ min: 0, max: 2 ** 45 }),
    type: fc.constantFrom(...hitTypes),
    events: fc.array(text, { maxLength: 4 }),
    eventValues: fc.dictionary(key, fc.double(), { maxKeys: 3, noNullPrototype: true }),
    pageName: text,
    pageURL: text,
    referrer: text,
    searchTerm: text,
    products: fc.array(product, { maxLength: 20 }),
    dims: fc.dictionary(key, scalar, { maxKeys: 20, noNullPrototype: true }),
    traits: fc.dictionary(key, fc.jsonValue({ maxDepth: 3 }), { maxKeys: 5, noNullPrototype: true }),
  },
  { requiredKeys: ['id', 'source', 'visitorId', 'ts', 'receivedAt', 'type', 'events'], noNullPrototype: true },
);

describe('encodeHitEntry', () => {
  it('writes entries the generic decoder reads back as the generic encoder would', () => {
    fc.assert(
      fc.property(fc.array(hit, { maxLength: 40 }), (hits) => {
        const entry = encodeHitEntry(hits);
        expect(entry).toBeDefined();
        expect(decodeHits(entry as Buffer)).toStrictEqual(decode(encode(hits)));
      }),
      { numRuns: 300 },
    );
  });

  it('keeps entries apart: each one is read alone, after others were written', () => {
    const a = encodeHitEntry([{ id: '1', source: 's', visitorId: 'v', ts: 1, receivedAt: 2, type: 'track', events: ['x'], dims: { a: 1 } }]) as Buffer;
    const copy = Buffer.from(a);
    const b = encodeHitEntry([{ id: '2', source: 's', visitorId: 'w', ts: 3, receivedAt: 4, type: 'page', events: [], pageName: 'p', dims: { b: 'x', a: 2 } }]) as Buffer;
    expect(a).toEqual(copy);
    expect(decodeHits(b)).toStrictEqual([{ id: '2', source: 's', visitorId: 'w', ts: 3, receivedAt: 4, type: 'page', events: [], pageName: 'p', dims: { b: 'x', a: 2 } }]);
    expect(decodeHits(a)[0]?.dims).toStrictEqual({ a: 1 });
  });

  it('falls back to plain maps when one entry holds more object shapes than record ids', () => {
    const hits: Hit[] = Array.from({ length: 150 }, (_, i) => ({ id: `h${i}`, source: 's', visitorId: 'v', ts: i, receivedAt: i, type: 'track', events: [], dims: { [`k${i}`]: i, [`j${i % 7}`]: 'x' } }));
    expect(decodeHits(encodeHitEntry(hits) as Buffer)).toStrictEqual(decode(encode(hits)));
  });

  it('writes what is not plain data as the generic encoder does', () => {
    const bare = Object.assign(Object.create(null) as object, { a: 1 });
    const hits = [{ id: '1', source: 's', visitorId: 'v', ts: 1, receivedAt: 2, type: 'track', events: [], traits: { at: new Uint8Array([1, 2]), bare }, dims: { a: 1 } }] as unknown as Hit[];
    expect(decodeHits(encodeHitEntry(hits))).toStrictEqual(decode(encode(hits)));
  });

  it('builds entries side by side, hit by hit: each defines its own records', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat(2), hit), { maxLength: 60 }), (placed) => {
        const builders = [new HitEntryBuilder(64), new HitEntryBuilder(64), new HitEntryBuilder(64)];
        for (const [b, h] of placed) builders[b]?.add(h);
        builders.forEach((builder, b) => {
          const hits = placed.filter(([at]) => at === b).map(([, h]) => h);
          const entry = builder.finish();
          if (hits.length === 0) expect(entry).toBeUndefined();
          else expect(decodeHits(entry as Buffer)).toStrictEqual(decode(encode(hits)));
          // A finished builder starts the next entry afresh.
          builder.add(hits[0] ?? placed[0]?.[1] ?? { id: 'x', source: 's', visitorId: 'v', ts: 0, receivedAt: 0, type: 'page', events: [] });
          expect(decodeHits(builder.finish() as Buffer)).toHaveLength(1);
        });
      }),
      { numRuns: 150 },
    );
  });

  it('writes the next entries into a released buffer, and takes each buffer back once', () => {
    const one = (id: string, pageName = 'p'): Hit => ({ id, source: 's', visitorId: 'v', ts: 1, receivedAt: 2, type: 'page', events: [], pageName, dims: { a: id } });
    const builder = new HitEntryBuilder();
    builder.add(one('a'));
    const a = builder.finish() as Buffer;
    builder.add(one('b'));
    const b = builder.finish() as Buffer;
    const bCopy = Buffer.from(b);
    builder.release(a);
    builder.release(a);
    builder.release(Buffer.alloc(8192));
    builder.release(encodeHitEntry([one('foreign')]));
    builder.add(one('c'));
    const c = builder.finish() as Buffer;
    builder.add(one('d'));
    const d = builder.finish() as Buffer;
    builder.add(one('e'));
    const e = builder.finish() as Buffer;
    // The entry after the release went into a's buffer, the next one not again (released once);
    // b, still out, was left alone.
    expect([c, d, e].filter((entry) => entry.buffer === a.buffer)).toHaveLength(1);
    expect([c, d, e].some((entry) => entry.buffer === b.buffer)).toBe(false);
    expect(b).toEqual(bCopy);
    expect([c, d, e].map((entry) => decodeHits(entry))).toStrictEqual([[one('c')], [one('d')], [one('e')]]);
    // A released buffer too small for an entry like the last one is not reused.
    for (const entry of [c, d, e]) builder.release(entry);
    builder.add(one('f', 'x'.repeat(20_000)));
    const f = builder.finish() as Buffer;
    builder.add(one('g', 'y'.repeat(20_000)));
    const g = builder.finish() as Buffer;
    expect([c, d, e].some((entry) => entry.buffer === g.buffer)).toBe(false);
    expect(decodeHits(f)).toStrictEqual([one('f', 'x'.repeat(20_000))]);
    expect(decodeHits(g)).toStrictEqual([one('g', 'y'.repeat(20_000))]);
  });

  it('writes large entries (the buffer grows mid-entry)', () => {
    const big = 'é'.repeat(5000);
    const hits: Hit[] = Array.from({ length: 120 }, (_, i) => ({ id: `h${i}`, source: 's', visitorId: 'v', ts: i, receivedAt: i, type: 'track', events: [], pageName: big }));
    expect(decodeHits(encodeHitEntry(hits) as Buffer)).toStrictEqual(decode(encode(hits)));
  });
});

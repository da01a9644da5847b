// The raw-size scanner behind Segment's 32 KB per message limit, checked against JSON.stringify,
// and the lower bound of a parsed value's raw size that lets most batches skip the scan.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { arrayElementBytes, elementsWithin, jsonBytesAtLeast } from '../../src/ingest/json-spans.js';

describe('arrayElementBytes', () => {
  it('gives the byte length of every element of the named top-level array, whatever the values', () => {
    fc.assert(
      fc.property(fc.array(fc.jsonValue(), { maxLength: 8 }), fc.dictionary(fc.string(), fc.jsonValue(), { maxKeys: 3 }), (batch, other) => {
        const { batch: _ignored, ...rest } = other as Record<string, unknown>;
        const body = Buffer.from(JSON.stringify({ ...rest, nested: { batch: [1, 2, 3] }, batch }));
        expect(arrayElementBytes(body, 'batch')).toEqual(batch.map((element) => Buffer.byteLength(JSON.stringify(element))));
      }),
      { numRuns: 300 },
    );
  });

  it('ignores white space around elements and strings that look like JSON', () => {
    const body = Buffer.from('{ "writeKey": "[x]", "batch" : [ {"a":"}],\\"é"} ,\n  [1, 2] , "batch" , 7 ] }');
    expect(arrayElementBytes(body, 'batch')).toEqual([Buffer.byteLength('{"a":"}],\\"é"}'), 6, 7, 1]);
  });

  it('finds nothing when there is no such array', () => {
    expect(arrayElementBytes(Buffer.from('{"batch": 5, "x": [1]}'), 'batch')).toEqual([]);
  });
});

describe('jsonBytesAtLeast', () => {
  it('never exceeds the raw size of a text that parses to the value, compact, indented or escaped', () => {
    const texts = (value: unknown): string[] => [JSON.stringify(value), JSON.stringify(value, null, 2), JSON.stringify(value).replace(/[\u0080-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)];
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        for (const text of texts(value)) {
          const parsed: unknown = JSON.parse(text);
          expect(jsonBytesAtLeast(parsed)).toBeLessThanOrEqual(Buffer.byteLength(text));
        }
      }),
      { numRuns: 500 },
    );
  });

  it('is exact for compact ASCII text without numbers', () => {
    const value = { a: ['x', true, null, { b: false }], c: {}, d: [] };
    expect(jsonBytesAtLeast(value)).toBe(Buffer.byteLength(JSON.stringify(value)));
  });

  it('ignores enumerable keys inherited from the prototype', () => {
    const value = Object.create({ inherited: 'x'.repeat(1000) }) as Record<string, unknown>;
    value.own = 1;
    expect(jsonBytesAtLeast(value)).toBe(Buffer.byteLength('{"own":1}'));
  });

  it('bounds containers nested beyond its depth by their brackets, without recursing', () => {
    let deep: unknown = 'leaf';
    for (let i = 0; i < 10_000; i++) deep = [deep];
    expect(jsonBytesAtLeast(deep)).toBeGreaterThanOrEqual(2);
  });
});

describe('elementsWithin', () => {
  it('agrees with the scanner: whenever it says yes, no element is over the limit', () => {
    const limit = 200;
    fc.assert(
      fc.property(fc.array(fc.jsonValue({ maxDepth: 3 }), { maxLength: 12 }), fc.nat(300), (batch, padding) => {
        const body = Buffer.from(`{"batch":${JSON.stringify(batch)},"pad":"${'x'.repeat(padding)}"}`);
        if (elementsWithin(batch, body.length, limit)) expect(arrayElementBytes(body, 'batch').every((bytes) => bytes <= limit)).toBe(true);
      }),
      { numRuns: 500 },
    );
  });

  it('says yes for many small messages in a body over the limit, no when white space hides in one', () => {
    const message = { type: 'track', event: 'e', anonymousId: 'a'.repeat(40), properties: { x: 'y'.repeat(300) } };
    const batch = Array.from({ length: 200 }, () => message);
    const compact = JSON.stringify({ batch });
    expect(compact.length).toBeGreaterThan(32 * 1024);
    expect(elementsWithin(batch, compact.length, 32 * 1024)).toBe(true);
    const padded = `{"batch":[{"type":"track",${' '.repeat(40 * 1024)}"event":"e"}]}`;
    expect(elementsWithin(JSON.parse(padded).batch as unknown[], Buffer.byteLength(padded), 32 * 1024)).toBe(false);
  });
});

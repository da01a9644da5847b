// The raw-size scanner behind Segment's 32 KB per message limit, checked against JSON.stringify.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { arrayElementBytes } from '../../src/ingest/json-spans.js';

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

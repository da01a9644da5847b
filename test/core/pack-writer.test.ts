// The MessagePack writer detect writes its states with (core/pack-writer.ts): for any nesting of
// arrays, numbers, strings and booleans, what it writes is read back as the same value by msgpackr
// (core/codec.ts, the process side) and by Redis's Lua cmsgpack (detect-fire.lua), which packs it
// again into bytes that msgpackr reads as the same value.
import fc from 'fast-check';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decode } from '../../src/core/codec.js';
import { PackWriter } from '../../src/core/pack-writer.js';
import { startRedis, type RedisProcess } from '../support/redis-server.js';

type Value = string | number | boolean | Value[];

/** Writes arrays of odd length through openArray() and closeArray(), as if their length were known only after their items. */
function write(out: PackWriter, value: Value): void {
  if (!Array.isArray(value)) return out.scalar(value);
  if (value.length % 2 === 0) {
    out.array(value.length);
    for (const item of value) write(out, item);
    return;
  }
  const at = out.openArray();
  for (const item of value) write(out, item);
  out.closeArray(at, value.length);
}

const numbers = fc.oneof(
  fc.integer({ min: -40, max: 300 }),
  fc.integer({ min: -(2 ** 31), max: 2 ** 32 - 1 }),
  fc.integer({ min: 1_700_000_000_000, max: 1_900_000_000_000 }), // times in ms
  fc.double({ noNaN: true, noDefaultInfinity: true, min: -1e12, max: 1e12 }).filter((d) => !Object.is(d, -0)),
  fc.constantFrom(0, 31, 32, 127, 128, 255, 256, 65_535, 65_536, -32, -33, -128, -129, -32_768, -32_769, 2 ** 31 - 1, -(2 ** 31), 2 ** 32),
);
const strings = fc.oneof(fc.string({ maxLength: 40 }), fc.string({ unit: 'binary', maxLength: 40 }), fc.string({ minLength: 200, maxLength: 70_000 }));
const scalars = fc.oneof(numbers, strings, fc.boolean());
const values: fc.Arbitrary<Value> = fc.letrec<{ value: Value }>((tie) => ({
  value: fc.oneof({ depthSize: 'small', withCrossShrink: true }, scalars, fc.array(tie('value'), { maxLength: 20 })),
})).value;

describe('PackWriter', () => {
  it('writes values msgpackr reads back unchanged, one after the other in one buffer', () => {
    fc.assert(
      fc.property(fc.array(values, { minLength: 1, maxLength: 5 }), (all) => {
        const out = new PackWriter();
        const lengths: number[] = [];
        for (const value of all) {
          const before = out.length;
          write(out, value);
          lengths.push(out.length - before);
        }
        const bytes = out.take();
        expect(out.length).toBe(0);
        let at = 0;
        all.forEach((value, i) => {
          expect(decode(bytes.subarray(at, at + (lengths[i] as number)))).toEqual(value);
          at += lengths[i] as number;
        });
      }),
      { numRuns: 300 },
    );
  });

  it('forgets what was written on clear()', () => {
    const out = new PackWriter();
    out.string('half a state');
    out.clear();
    out.array(1);
    out.number(7);
    expect(decode(out.take())).toEqual([7]);
  });

  it('keeps writing correctly after clear() dropped a buffer grown by a very large value', () => {
    const out = new PackWriter();
    out.string('x'.repeat(9 * 1024 * 1024));
    out.clear();
    out.array(3);
    out.number(7);
    out.string('y'.repeat(40));
    out.number(1.5);
    expect(decode(out.take())).toEqual([7, 'y'.repeat(40), 1.5]);
  });

  describe('read by Redis Lua cmsgpack', () => {
    let server: RedisProcess;
    let redis: Redis;
    beforeAll(async () => {
      server = await startRedis({});
      redis = new Redis(server.url);
    });
    afterAll(async () => {
      redis.disconnect();
      await server.stop();
    });

    it('reads each value and packs it again into bytes msgpackr reads as the same value', async () => {
      // cmsgpack packs an empty Lua table as an array and integral numbers as integers: the same value for msgpackr.
      const repack = 'return cmsgpack.pack(cmsgpack.unpack(ARGV[1]))';
      await fc.assert(
        fc.asyncProperty(fc.array(values, { maxLength: 12 }), async (value) => {
          const out = new PackWriter();
          write(out, value);
          const again = (await redis.callBuffer('EVAL', repack, '0', out.take())) as Buffer;
          expect(decode(again)).toEqual(value);
        }),
        { numRuns: 150 },
      );
    });
  });
});

// The visitor state's de-duplication of hits (stages/detect/visitor-state.ts): a hit id among the
// visitor's last 32 counts once, in states written now (30-bit numbers) and in states written
// before them (8 hex characters per hash), which Redis may still hold; the hit id hash behind it.
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { decode, encodePlain } from '../../src/core/codec.js';
import { defaultVisit, idHash, type HitEffect } from '../../src/stages/detect/hit-effects.js';
import { versionPrefix, VisitorState } from '../../src/stages/detect/visitor-state.js';

const t0 = 1_790_000_000_000;

function effect(hash: number, n: number): HitEffect {
  return { hash, receivedAt: t0 + n, ts: t0 + n, visit: defaultVisit, visitorId: 'v1', aliases: undefined, cart: undefined, counts: undefined, matches: undefined };
}

/** A written state without the version it starts with. */
function stateOf<T = unknown[]>(written: Buffer): T {
  const prefix = versionPrefix(written);
  if (prefix === undefined) throw new Error('no version first');
  return decode<T>(written.subarray(prefix.at));
}

/** The hits counted in the visit the state is in (position 4 of a visit, see visitor-state.ts). */
function hitsCounted(state: VisitorState): number {
  const write = state.write(0);
  if (write === undefined) throw new Error('nothing to write');
  const stored = stateOf<[number, unknown, unknown[] | 0, unknown[] | 0]>(write.state);
  return (stored[stored[0] % 2 === 0 ? 3 : 2] as unknown[])[4] as number;
}

describe('visitor state de-duplication', () => {
  it('counts a hit applied twice once', () => {
    const state = new VisitorState('k');
    state.apply(effect(7, 1), new Map());
    state.apply(effect(7, 1), new Map());
    state.apply(effect(8, 2), new Map());
    expect(hitsCounted(state)).toBe(2);
  });

  it('remembers the last 32 hits: an older one counts again', () => {
    const state = new VisitorState('k');
    for (let h = 1; h <= 33; h++) state.apply(effect(h, h), new Map());
    state.apply(effect(33, 33), new Map()); // among the last 32
    expect(hitsCounted(state)).toBe(33);
    state.apply(effect(1, 34), new Map()); // pushed out by the 33rd
    expect(hitsCounted(state)).toBe(34);
  });

  it('reads the recent hits of a state stored as hex text, and answers with numbers', () => {
    const fresh = new VisitorState('k');
    fresh.apply(effect(1, 1), new Map());
    const stored = stateOf((fresh.write(0) as { state: Buffer }).state);
    // Two hashes as the earlier format kept them: 32 bits, 8 hex characters each.
    stored[1] = 'deadbeef0000002a';
    const old = new VisitorState('k', [encodePlain(stored), Buffer.from('1'), null]);
    old.apply(effect(0xdeadbeef >>> 2, 2), new Map());
    old.apply(effect(0x2a >>> 2, 3), new Map());
    expect(old.write(0)).toBeUndefined(); // both were seen: nothing changed
    old.apply(effect(99, 4), new Map());
    const write = old.write(0) as { state: Buffer };
    expect(stateOf(write.state)[1]).toEqual([0xdeadbeef >>> 2, 0x2a >>> 2, 99]);
  });
});

describe('visitor state written back', () => {
  it('stays readable when a state written by hand ends a [key, value, …] list with a key alone', () => {
    const visit = [t0, t0, t0, t0, 1, 0, [], [], [], [7, [[], 0, ['pageName'], 0], 9]];
    const state = new VisitorState('k', [encodePlain([1, [], visit, 0]), Buffer.from('1'), null]);
    state.apply(effect(5, 10), new Map());
    const stored = stateOf<[number, unknown, unknown[], unknown]>((state.write(0) as { state: Buffer }).state);
    expect(stored[2][4]).toBe(2);
    expect(stored[2][9]).toEqual([7, [[], 0, [], 0]]);
  });
});

describe('visitor state versions', () => {
  it('writes the next version first, and a state read back has it', () => {
    const state = new VisitorState('k');
    state.apply(effect(1, 1), new Map());
    const first = state.write(0) as { state: Buffer; set: string[]; remove: string[] };
    expect(versionPrefix(first.state)?.version).toBe(1);
    expect([first.set, first.remove]).toEqual([['vn', '1'], []]);
    state.committed();
    state.apply(effect(2, 2), new Map());
    const second = (state.write(0) as { state: Buffer }).state;
    expect(versionPrefix(second)?.version).toBe(2);
    const read = new VisitorState('k', [second, null, null]);
    expect(read.version).toBe(2);
    read.apply(effect(3, 3), new Map());
    expect(hitsCounted(read)).toBe(3);
  });

  it('reads the version of a state written before it moved into the state from the field v, and removes that field once', () => {
    const fresh = new VisitorState('k');
    fresh.apply(effect(1, 1), new Map());
    const old = new VisitorState('k', [encodePlain(stateOf(fresh.write(0)!.state)), Buffer.from('41'), null]);
    expect(old.version).toBe(41);
    old.apply(effect(2, 2), new Map());
    const write = old.write(0)!;
    expect(versionPrefix(write.state)?.version).toBe(42);
    expect(write.remove).toEqual(['v']);
    old.committed();
    old.apply(effect(3, 3), new Map());
    expect(old.write(0)!.remove).toEqual([]);
  });

  it('reads every unsigned integer size msgpackr and Lua write', () => {
    for (const version of [0, 127, 128, 255, 256, 65_535, 65_536, 2 ** 32 - 1, 2 ** 32, 2 ** 40]) {
      const bytes = Buffer.concat([encodePlain(version), encodePlain([1])]);
      expect(versionPrefix(bytes)).toEqual({ version, at: bytes.length - 2 });
    }
    // From 2^32 on Lua's cmsgpack (detect-fire.lua) writes a uint64 where msgpackr writes a float64.
    expect(versionPrefix(Buffer.from('cf00000001000000009101', 'hex'))).toEqual({ version: 2 ** 32, at: 9 });
    expect(versionPrefix(encodePlain([1, [], 0, 0]))).toBeUndefined();
    expect(versionPrefix(Buffer.from([0xcd, 1]))).toBeUndefined(); // cut short
  });
});

describe('the hit id hash', () => {
  it('keeps 30 bits and rarely confuses two ids, sequential or random', () => {
    for (const ids of [Array.from({ length: 100_000 }, (_, i) => `b-${i}`), Array.from({ length: 100_000 }, () => randomUUID())]) {
      const hashes = ids.map(idHash);
      for (const h of hashes) expect(Number.isInteger(h) && h >= 0 && h < 2 ** 30).toBe(true);
      // 100,000 ids in 2^30 values: about 5 collisions expected; a weak hash makes thousands.
      expect(ids.length - new Set(hashes).size).toBeLessThan(30);
    }
  });
});

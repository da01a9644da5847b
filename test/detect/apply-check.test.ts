// The write check of lua/detect-apply.lua: a batch computed from a visitor state that changed
// since it was read writes nothing and acknowledges nothing; entries another consumer took are
// reported, not applied. A state's version is compared unless the process vouches for it and
// finds its own last token, i.e. nobody else wrote a state of the partition since
// (src/stages/detect/visitor-cache.ts). (Two processes racing end to end: properties.test.ts.)
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { encodePlain } from '../../src/core/codec.js';
import { connectRedis, type RedisPort } from '../../src/core/redis/client.js';
import { Keys } from '../../src/core/redis/keys.js';
import { detectGroup } from '../../src/stages/detect/detect-stage.js';
import { newPrefix } from '../stages/pipeline-helpers.js';

let redis: RedisPort;
beforeAll(async () => {
  redis = await connectRedis({ url: inject('redisUrl') }, { connectTimeoutMs: 5000, name: 'test' });
});
afterAll(() => redis.close());

async function setup(): Promise<{ keys: Keys; stream: string; timers: string; written: string; visitor: string; entry: string }> {
  const keys = new Keys(newPrefix(), 1);
  const stream = keys.stream(0, 'hits');
  await redis.xgroupCreate(stream, detectGroup, '0');
  const entry = await redis.xadd(stream, Buffer.from('x'));
  await redis.xreadgroup(stream, detectGroup, 'c1', '>', 10);
  return { keys, stream, timers: keys.timers(0), written: keys.visitorsWritten(0), visitor: keys.visitor(0, 'v-1'), entry };
}

interface Tokens {
  /** The token the process expects to find ('' for none). */
  expected: string;
  token: string;
  /** 1: compare the version even when the expected token is found. */
  check: 0 | 1;
}

/** A new pending entry on the same partition as `s`, for a second write. */
async function withNewEntry(s: Awaited<ReturnType<typeof setup>>): Promise<Awaited<ReturnType<typeof setup>>> {
  const entry = await redis.xadd(s.stream, Buffer.from('y'));
  await redis.xreadgroup(s.stream, detectGroup, 'c1', '>', 10);
  return { ...s, entry };
}

/** A stored state as detect writes it: its version, then the state (here any text). */
const stateAt = (version: number, body: string): string => String.fromCharCode(version) + body;

/** One write (key 4, no time to live, nothing set, `remove` removed), as detect-stage.ts plans it; `state` starts with the next version. */
const apply = (s: Awaited<ReturnType<typeof setup>>, versionRead: number, state: string, { expected, token, check }: Tokens = { expected: '', token: 't-1', check: 1 }, remove: string[] = []) =>
  redis.script('reboundDetectApply', [s.stream, s.timers, s.written, s.visitor], [
    detectGroup,
    encodePlain([[s.entry], [4, versionRead, check, state.length, 0, 0, remove.length, ...remove], ['1|1|v-1', 5000]]),
    state,
    expected,
    token,
  ]);

describe('detect-apply', () => {
  it('writes the state, arms the timer and acknowledges when the version read is current', async () => {
    const s = await setup();
    expect(await apply(s, 0, stateAt(1, 'state-1'))).toEqual([0, 0]);
    expect(await redis.hget(s.visitor, 's')).toBe(stateAt(1, 'state-1'));
    expect(await redis.zcard(s.timers)).toBe(1);
    expect(await redis.xpendingIdle(s.stream, detectGroup, 0, 10)).toHaveLength(0);
  });

  it('refuses a batch computed from an older state: nothing written, nothing acknowledged', async () => {
    const s = await setup();
    await redis.hset(s.visitor, 's', stateAt(4, 'fired')); // e.g. a fired timer bumped the version meanwhile
    expect(await apply(s, 3, stateAt(4, 'stale'))).toEqual([2, 1]);
    expect(await redis.hget(s.visitor, 's')).toBe(stateAt(4, 'fired'));
    expect(await redis.zcard(s.timers)).toBe(0);
    expect(await redis.xpendingIdle(s.stream, detectGroup, 0, 10)).toHaveLength(1);
  });

  it('reports entries no longer pending (acknowledged by another consumer) and writes nothing', async () => {
    const s = await setup();
    const other = new Redis(inject('redisUrl'));
    await other.xack(s.stream, detectGroup, s.entry);
    other.disconnect();
    expect(await apply(s, 0, stateAt(1, 'late'))).toEqual([1, [s.entry]]);
    expect(await redis.hget(s.visitor, 's')).toBeNull();
  });

  it('leaves its token: the next write that expects it writes the states it vouches for without comparing their versions', async () => {
    const s = await setup();
    expect(await apply(s, 0, stateAt(1, 'state-1'), { expected: '', token: 'mine-1', check: 1 })).toEqual([0, 0]);
    expect(await redis.get(s.written)).toBe('mine-1');
    await redis.hset(s.visitor, 's', stateAt(7, 'by hand')); // not a detect write: the token stays
    const next = await withNewEntry(s);
    expect(await apply(next, 1, stateAt(2, 'state-2'), { expected: 'mine-1', token: 'mine-2', check: 0 })).toEqual([0, 1]);
    expect(await redis.hget(s.visitor, 's')).toBe(stateAt(2, 'state-2'));
    expect(await redis.get(s.written)).toBe('mine-2');
  });

  it('compares a state it is told to check even when the expected token is found', async () => {
    const s = await setup();
    await redis.set(s.written, 'mine-1');
    await redis.hset(s.visitor, 's', stateAt(4, 'theirs'));
    expect(await apply(s, 3, stateAt(4, 'stale'), { expected: 'mine-1', token: 'mine-2', check: 1 })).toEqual([2, 1]);
    expect(await redis.hget(s.visitor, 's')).toBe(stateAt(4, 'theirs'));
    expect(await redis.get(s.written)).toBe('mine-1');
  });

  it('compares every state when another write left its token (another process, a fired timer)', async () => {
    const s = await setup();
    await redis.set(s.written, 'theirs-9');
    await redis.hset(s.visitor, 's', stateAt(4, 'theirs'));
    expect(await apply(s, 3, stateAt(4, 'stale'), { expected: 'mine-1', token: 'mine-2', check: 0 })).toEqual([2, 1]);
    expect(await redis.hget(s.visitor, 's')).toBe(stateAt(4, 'theirs'));
    expect(await apply(s, 4, stateAt(5, 'current'), { expected: 'mine-1', token: 'mine-2', check: 0 })).toEqual([0, 0]);
    expect(await redis.get(s.written)).toBe('mine-2');
  });

  it('reads the version of a state written before it moved into the state from the field v, and the write removes that field', async () => {
    const s = await setup();
    const raw = new Redis(inject('redisUrl'));
    await raw.hset(s.visitor, 's', encodePlain([1, [], 0, 0]), 'v', '4');
    raw.disconnect();
    expect(await apply(s, 3, stateAt(4, 'stale'), undefined, ['v'])).toEqual([2, 1]);
    expect(await redis.hget(s.visitor, 'v')).toBe('4');
    expect(await apply(s, 4, stateAt(5, 'current'), undefined, ['v'])).toEqual([0, 0]);
    expect(await redis.hget(s.visitor, 's')).toBe(stateAt(5, 'current'));
    expect(await redis.hget(s.visitor, 'v')).toBeNull();
  });
});

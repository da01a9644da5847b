// Small core helpers every role relies on: duration strings, the one retry helper (bounds of its
// backoff, when it gives up) and the one key builder (hash tags, stable and balanced partitions).
import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatDuration, parseDuration } from '../../src/core/duration.js';
import { ReboundError } from '../../src/core/errors.js';
import { Keys, hashString } from '../../src/core/redis/keys.js';
import { backoffDelay, retry } from '../../src/core/retry.js';

describe('parseDuration', () => {
  it.each([
    ['0ms', 0],
    ['500ms', 500],
    ['1s', 1000],
    ['10s', 10_000],
    ['1.5s', 1500],
    ['15m', 900_000],
    ['12h', 43_200_000],
    ['3d', 259_200_000],
    [' 30s ', 30_000],
    ['0.25ms', 0],
  ])('%j → %d ms', (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });

  it.each(['', '10', 's', '-1s', '10 s', '10S', '1w', '1h30m', 'ten seconds', '.5s', '1e3ms', 'Infinitys'])('%j is not a duration', (text) => {
    expect(parseDuration(text)).toBeUndefined();
  });
});

describe('formatDuration', () => {
  it.each([
    [0, '0ms'],
    [1, '1ms'],
    [500, '500ms'],
    [1000, '1s'],
    [1500, '1500ms'],
    [90_000, '90s'],
    [60_000, '1m'],
    [900_000, '15m'],
    [3_600_000, '1h'],
    [5_400_000, '90m'],
    [86_400_000, '1d'],
    [172_800_000, '2d'],
  ])('%d ms → %s', (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
  });

  it('round-trips through parseDuration for every whole number of milliseconds', () => {
    fc.assert(
      fc.property(fc.nat({ max: 400 * 86_400_000 }), (ms) => parseDuration(formatDuration(ms)) === ms),
      { numRuns: 2000 },
    );
  });
});

describe('backoffDelay', () => {
  const options = { baseMs: 50, capMs: 2000 };

  it('is 0 when the random draw is 0', () => {
    for (const attempt of [1, 2, 5, 10, 100]) expect(backoffDelay(attempt, options, () => 0)).toBe(0);
  });

  it('is min(cap, base·2^(attempt-1)) when the random draw is 1', () => {
    const expected = [50, 100, 200, 400, 800, 1600, 2000, 2000];
    expected.forEach((ms, i) => expect(backoffDelay(i + 1, options, () => 1)).toBe(ms));
    expect(backoffDelay(1000, options, () => 1)).toBe(2000);
    expect(backoffDelay(3, { baseMs: 10, capMs: 1_000_000 }, () => 1)).toBe(40);
  });

  it('stays within [0, min(cap, base·2^(attempt-1))] for any draw', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 200 }),
        fc.integer({ min: 1, max: 10_000 }),
        fc.integer({ min: 1, max: 600_000 }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        (attempt, baseMs, capMs, draw) => {
          const delay = backoffDelay(attempt, { baseMs, capMs }, () => draw);
          return Number.isInteger(delay) && delay >= 0 && delay <= Math.min(capMs, baseMs * 2 ** (attempt - 1));
        },
      ),
    );
  });

  it('uses Math.random by default and stays in bounds', () => {
    for (let i = 0; i < 1000; i++) {
      const delay = backoffDelay(4, options);
      expect(delay).toBeGreaterThanOrEqual(0);
      expect(delay).toBeLessThanOrEqual(400);
    }
  });
});

describe('retry', () => {
  const fast = { baseMs: 1, capMs: 5 };

  /** An operation that fails with `error` the first `failures` times, then resolves with its attempt. */
  function flaky(failures: number, error: unknown): { calls: number[]; run: (attempt: number) => Promise<number> } {
    const calls: number[] = [];
    return {
      calls,
      run: async (attempt) => {
        calls.push(attempt);
        if (calls.length <= failures) throw error;
        return attempt;
      },
    };
  }

  it('returns the first success', async () => {
    const op = flaky(0, new Error('never'));
    await expect(retry(op.run, { ...fast, attempts: 5 })).resolves.toBe(1);
    expect(op.calls).toEqual([1]);
  });

  it('gives up at once on a non-retriable ReboundError', async () => {
    const error = new ReboundError('CONFIG_INVALID', 'bad');
    const op = flaky(Infinity, error);
    const retries: number[] = [];
    await expect(retry(op.run, { ...fast, attempts: 10, onRetry: (_e, attempt) => retries.push(attempt) })).rejects.toBe(error);
    expect(op.calls).toEqual([1]);
    expect(retries).toEqual([]);
  });

  it('retries a retriable ReboundError up to the attempts, then rethrows it', async () => {
    const error = new ReboundError('REDIS_UNAVAILABLE', 'down');
    const op = flaky(Infinity, error);
    const retries: Array<[number, number]> = [];
    await expect(retry(op.run, { ...fast, attempts: 4, onRetry: (_e, attempt, delay) => retries.push([attempt, delay]) })).rejects.toBe(error);
    expect(op.calls).toEqual([1, 2, 3, 4]);
    expect(retries.map(([attempt]) => attempt)).toEqual([1, 2, 3]);
    for (const [attempt, delay] of retries) expect(delay).toBeLessThanOrEqual(Math.min(fast.capMs, fast.baseMs * 2 ** (attempt - 1)));
  });

  it('succeeds when a retriable failure clears before the attempts run out', async () => {
    const op = flaky(2, new ReboundError('STAGE_ITEM_FAILED', 'transient'));
    await expect(retry(op.run, { ...fast, attempts: 3 })).resolves.toBe(3);
    expect(op.calls).toEqual([1, 2, 3]);
  });

  it('treats errors that are not ReboundErrors as retriable', async () => {
    const op = flaky(1, new Error('ECONNRESET'));
    await expect(retry(op.run, { ...fast, attempts: 2 })).resolves.toBe(2);
  });

  it('stops when the signal aborts during the backoff', async () => {
    const controller = new AbortController();
    const error = new ReboundError('REDIS_UNAVAILABLE', 'down');
    const op = flaky(Infinity, error);
    const started = Date.now();
    const outcome = retry(op.run, {
      baseMs: 60_000,
      capMs: 60_000,
      attempts: Infinity,
      signal: controller.signal,
      onRetry: () => setTimeout(() => controller.abort(), 20),
    });
    await expect(outcome).rejects.toBe(error);
    expect(op.calls).toEqual([1]);
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('stops retrying an endless failure once the signal aborts', async () => {
    const controller = new AbortController();
    const op = flaky(Infinity, new Error('still down'));
    setTimeout(() => controller.abort(), 50);
    await expect(retry(op.run, { ...fast, attempts: Infinity, signal: controller.signal })).rejects.toThrow('still down');
    const calls = op.calls.length;
    expect(calls).toBeGreaterThan(1);
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(op.calls.length).toBe(calls);
  });

  it('does not retry when the signal is already aborted', async () => {
    const op = flaky(Infinity, new Error('down'));
    await expect(retry(op.run, { ...fast, attempts: 5, signal: AbortSignal.abort() })).rejects.toThrow('down');
    expect(op.calls).toEqual([1]);
  });
});

/** The hash tag Redis Cluster hashes: the text between the first `{` and the next `}`, if non-empty. */
function hashTag(key: string): string | undefined {
  const open = key.indexOf('{');
  const close = open < 0 ? -1 : key.indexOf('}', open + 1);
  return close > open + 1 ? key.slice(open + 1, close) : undefined;
}

describe('Keys', () => {
  const keys = new Keys('rb', 16);

  it('tags every key of partition p with {pN} as its cluster hash tag, under the prefix', () => {
    for (const p of keys.allPartitions()) {
      const partitionKeys = [
        keys.stream(p, 'hits'),
        keys.stream(p, 'fired'),
        keys.stream(p, 'out:email'),
        keys.deadLetters(p, 'hits'),
        keys.stageErrors(p, 'hits', 'detect'),
      ];
      for (const key of partitionKeys) {
        expect(key.startsWith('rb:')).toBe(true);
        expect(key).toContain(`{p${p}}`);
        expect(hashTag(key)).toBe(`p${p}`);
      }
      expect(new Set(partitionKeys).size).toBe(partitionKeys.length);
    }
  });

  it('keeps partitions and prefixes apart', () => {
    expect(keys.stream(1, 'hits')).not.toBe(keys.stream(11, 'hits'));
    expect(new Keys('shop2', 16).stream(3, 'hits')).not.toBe(keys.stream(3, 'hits'));
    expect(keys.stream(3, 'hits')).toBe('rb:{p3}:hits');
    expect(keys.deadLetters(3, 'hits')).not.toBe(keys.stream(3, 'hits'));
    expect(keys.meta()).toBe('rb:meta');
  });

  it('lists all partitions 0 … P-1', () => {
    expect(keys.allPartitions()).toEqual(Array.from({ length: 16 }, (_, p) => p));
    expect(new Keys('rb', 1).allPartitions()).toEqual([0]);
  });

  it('hashes with 32-bit FNV-1a (stable across versions)', () => {
    expect(hashString('')).toBe(0x811c9dc5);
    expect(hashString('a')).toBe(0xe40c292c);
    expect(hashString('foobar')).toBe(0xbf9cf968);
  });

  it('gives a visitor the same partition every time, in every process, within range', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 80 }), fc.integer({ min: 1, max: 1024 }), (visitor, partitions) => {
        const a = new Keys('rb', partitions).partitionOf(visitor);
        const b = new Keys('other', partitions).partitionOf(visitor);
        return a === b && Number.isInteger(a) && a >= 0 && a < partitions;
      }),
      { numRuns: 5000 },
    );
  });

  it.each([
    { label: 'random UUIDs', visitorId: () => randomUUID() },
    { label: 'random 38-digit ECIDs', visitorId: () => Array.from({ length: 38 }, () => Math.floor(Math.random() * 10)).join('') },
    { label: 'random base-36 ids', visitorId: () => `${Math.random().toString(36).slice(2)}${Math.random().toString(36).slice(2)}` },
  ])('balances 100,000 $label over 16 partitions within ±10 %', ({ visitorId }) => {
    const counts = new Array<number>(16).fill(0);
    for (let i = 0; i < 100_000; i++) {
      const p = keys.partitionOf(visitorId());
      counts[p] = (counts[p] ?? 0) + 1;
    }
    for (const count of counts) {
      expect(count).toBeGreaterThanOrEqual(6250 * 0.9);
      expect(count).toBeLessThanOrEqual(6250 * 1.1);
    }
  });
});

// What the detect process vouches for between batches (src/stages/detect/visitor-cache.ts): how
// long a key cannot have expired, which states are trusted after its own and others' writes, and
// one batch or timer decision of a partition at a time.
import { describe, expect, it } from 'vitest';
import { trustedUntil, VisitorCache } from '../../src/stages/detect/visitor-cache.js';
import { VisitorState } from '../../src/stages/detect/visitor-state.js';

const day = 86_400_000;
/** A state read at 0 with 65 s to live: trusted until 5,000 (a minute before it could expire). */
const read = (cache: VisitorCache, partition: number) => cache.loaded(partition, `v${partition}`, new VisitorState(`k${partition}`), 0, 65_000);

describe('trustedUntil', () => {
  it('ends a minute before the key could expire, and within a day (a click may set a day from its own time)', () => {
    expect(trustedUntil(1000, 30_000)).toBeLessThan(1000); // about to expire: never trusted
    expect(trustedUntil(1000, 3_600_000)).toBe(1000 + 3_600_000 - 60_000);
    expect(trustedUntil(1000, 8 * day)).toBe(1000 + day - 60_000);
    expect(trustedUntil(1000, -1)).toBe(1000 + day - 60_000); // no time to live
    expect(trustedUntil(1000, -2)).toBe(1000 + day - 60_000); // no key yet
  });
});

describe('VisitorCache', () => {
  it('trusts states of the current generation until their time; a write that did not find its token starts a new generation', () => {
    const cache = new VisitorCache(10);
    const vouched = read(cache, 3);
    expect(cache.trusted(3, vouched, 4000)).toBe(true);
    expect(cache.trusted(3, vouched, 5000)).toBe(false);
    const token = cache.token();
    cache.wrote(3, token, true);
    expect(cache.expected(3)).toBe(token);
    expect(cache.trusted(3, vouched, 4000)).toBe(true);
    cache.wrote(3, cache.token(), false);
    expect(cache.trusted(3, vouched, 4000)).toBe(false);
    cache.vouch(3, vouched, 0, 65_000); // written again, its version compared
    expect(cache.trusted(3, vouched, 4000)).toBe(true);
    expect(cache.trusted(4, read(cache, 4), 4000)).toBe(true); // other partitions keep theirs
  });

  it('gives tokens unique to the process and the write', () => {
    const a = new VisitorCache(1);
    const b = new VisitorCache(1);
    const tokens = [a.token(), a.token(), b.token(), b.token()];
    expect(new Set(tokens).size).toBe(4);
    expect(a.expected(0)).toBe('');
  });

  it('runs the work of one partition one at a time, in order, after a failure too', async () => {
    const cache = new VisitorCache(1);
    const log: string[] = [];
    let release: () => void = () => undefined;
    const first = cache.exclusive(1, () => new Promise<void>((resolve) => (release = () => { log.push('first'); resolve(); })));
    const failing = cache.exclusive(1, async () => { log.push('second'); throw new Error('boom'); });
    const third = cache.exclusive(1, async () => void log.push('third'));
    const other = cache.exclusive(2, async () => void log.push('other partition'));
    await other;
    expect(log).toEqual(['other partition']);
    release();
    await first;
    await expect(failing).rejects.toThrow('boom');
    await third;
    expect(log).toEqual(['other partition', 'first', 'second', 'third']);
  });
});

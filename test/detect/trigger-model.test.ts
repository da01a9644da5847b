// Trigger definitions: validation that reports every problem with its path, regex safety, and the
// store in Redis (identity kept across updates, versions, live marks) with the polling watcher.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { isReboundError } from '../../src/core/errors.js';
import { createLogger } from '../../src/core/log.js';
import { connectRedis, type RedisPort } from '../../src/core/redis/client.js';
import { Keys } from '../../src/core/redis/keys.js';
import { DefinitionsWatcher } from '../../src/model/definitions-watcher.js';
import { parseTrigger, regexProblem } from '../../src/model/trigger.js';
import { deleteTrigger, loadTriggers, putTrigger, recordLive } from '../../src/model/trigger-store.js';
import { newPrefix } from '../stages/pipeline-helpers.js';

const cart = {
  kind: 'Trigger',
  id: 'cart-abandonment',
  name: 'Cart abandonment',
  source: 'shop-web',
  type: 'abandonment',
  include: { match: 'all', containers: [[{ metric: 'scAdd', op: 'exists' }]] },
  exclude: { containers: [[{ metric: 'scCheckout', op: 'exists' }], [{ metric: 'purchase', op: 'exists' }]] },
  inactivity: '10m',
  metadata: ['pageName', 'pageURL', 'products', 'searchTerm', 'eVar3'],
};

function problems(document: unknown): string[] {
  try {
    parseTrigger(document);
  } catch (err) {
    expect(isReboundError(err, 'TRIGGER_INVALID')).toBe(true);
    expect((err as { status: number }).status).toBe(422);
    return (err as Error).message.split('\n').slice(1).map((line) => line.trim());
  }
  throw new Error('expected TRIGGER_INVALID');
}

describe('parseTrigger', () => {
  it('accepts the SPEC example and fills the defaults', () => {
    const trigger = parseTrigger({ ...cart, exclude: undefined, inactivity: undefined, metadata: undefined });
    expect(trigger).toEqual({
      kind: 'Trigger',
      id: 'cart-abandonment',
      name: 'Cart abandonment',
      source: 'shop-web',
      type: 'abandonment',
      include: { match: 'all', containers: [[{ metric: 'scAdd', op: 'exists', scope: 'hit' }]] },
      exclude: { match: 'any', containers: [] },
      inactivityMs: 600_000,
      metadata: [],
      enabled: true,
    });
    expect(parseTrigger(cart).exclude.match).toBe('any');
  });

  it('refuses exclude match: all over several containers (only any is implemented)', () => {
    expect(() => parseTrigger({ ...cart, exclude: { match: 'all', containers: cart.exclude.containers } })).toThrow(/exclude\.match: exclude supports match: any/);
    expect(parseTrigger({ ...cart, exclude: { match: 'all', containers: [[{ metric: 'purchase', op: 'exists' }]] } }).exclude.containers).toHaveLength(1);
  });

  it('lists every problem with its path', () => {
    const found = problems({
      kind: 'Trigger',
      id: 'Bad Slug',
      source: 'shop-web',
      type: 'sometimes',
      include: {
        containers: [
          [{ metric: 'scAdd', op: 'gte' }],
          [],
          [{ dimension: 'pageName', op: 'in', value: 'cart' }, { dimension: 'eVar999', op: 'eq', value: 'x' }, { dimension: 'pageName', op: 'contains' }],
          [{ metric: 'x', dimension: 'y', op: 'exists' }, { dimension: 'pageName', op: 'exists', value: 1, scope: 'visit' }],
        ],
      },
      exclude: { containers: [[{ metric: 'prodView', op: 'gte', value: 3, scope: 'visit' }]] },
      inactivity: '5h',
      metadata: ['pageName', 'not a name', 'pageName'],
      color: 'blue',
    });
    const paths = found.map((line) => line.slice(0, line.indexOf(':')));
    expect(paths).toEqual(
      expect.arrayContaining([
        'id',
        'name',
        'type',
        'include.containers.0.0.value',
        'include.containers.1',
        'include.containers.2.0.value',
        'include.containers.2.1.dimension',
        'include.containers.2.2.value',
        'include.containers.3.0',
        'include.containers.3.1.value',
        'include.containers.3.1.scope',
        'inactivity',
        'metadata.1',
        'metadata',
        '(top level)',
      ]),
    );
    expect(found.find((line) => line.startsWith('include.containers.2.1.dimension'))).toContain('eVar numbers go from 1 to 250');
    expect(found.join('\n')).toContain("Unrecognized key(s) in object: 'color'");
  });

  it('needs an include container, numeric values for gt…lte and a known op', () => {
    expect(problems({ ...cart, include: { containers: [] } })).toEqual(['include.containers: at least one include container']);
    expect(problems({ ...cart, include: { containers: [[{ dimension: 'eVar1', op: 'gt', value: 'ten' }]] } })).toEqual(['include.containers.0.0.value: gt needs a numeric value']);
    expect(problems({ ...cart, include: { containers: [[{ metric: 'scAdd', op: 'neq', value: 1 }]] } })[0]).toMatch(/^include\.containers\.0\.0\.op: a metric op is one of/);
    expect(problems({ ...cart, include: { containers: [[{ dimension: 'eVar1', op: 'eq', value: ['a'] }]] } })).toEqual(['include.containers.0.0.value: eq takes one value; use in for a list']);
  });

  it('refuses visit-scoped exclude conditions and accepts them in include', () => {
    expect(problems({ ...cart, exclude: { containers: [[{ metric: 'prodView', op: 'gte', value: 3, scope: 'visit' }]] } })).toEqual([
      'exclude.containers.0.0.scope: visit-scoped conditions are for include only',
    ]);
    const trigger = parseTrigger({ ...cart, include: { containers: [[{ metric: 'prodView', op: 'gte', value: 3, scope: 'visit' }]] } });
    expect(trigger.include.containers[0]).toEqual([{ metric: 'prodView', op: 'gte', value: 3, scope: 'visit' }]);
  });

  it('refuses prototype keys wherever they are', () => {
    const document = JSON.parse(JSON.stringify(cart).replace('"op":"exists"', '"op":"exists","__proto__":{"polluted":true}'));
    expect(problems(document)).toContain('include.containers.0.0.__proto__: prototype keys are refused');
    expect(problems({ ...cart, metadata: ['properties.constructor'] })[0]).toMatch(/^metadata\.0: .*prototype key/);
    expect(problems({ ...cart, include: { containers: [[{ metric: '__proto__', op: 'exists' }]] } })).toEqual(['include.containers.0.0.metric: prototype keys are refused']);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('checks inactivity is a duration from 1s to 4h', () => {
    expect(parseTrigger({ ...cart, inactivity: '1s' }).inactivityMs).toBe(1000);
    expect(parseTrigger({ ...cart, inactivity: '4h' }).inactivityMs).toBe(14_400_000);
    expect(problems({ ...cart, inactivity: '999ms' })).toEqual(['inactivity: inactivity goes from 1s to 4h']);
    expect(problems({ ...cart, inactivity: 'soon' })[0]).toMatch(/^inactivity: "soon" is not a duration/);
  });

  it('rejects unsafe or invalid patterns with a path error and accepts ordinary ones', () => {
    for (const unsafe of ['(a+)+$', '^(\\w+\\s?)*$', '(a|a)*b', '(x|xy){2,}z', '((a|b)c)*', '(a)\\1', '(a']) {
      expect(regexProblem(unsafe), unsafe).toBeDefined();
    }
    for (const safe of ['^/cart', 'checkout|order', '^/products/[a-z0-9-]+\\.html$', '(?:\\.html|\\.htm)?$', '[(|)+]*x', '^[^@]+@[^.]+\\.com$']) {
      expect(regexProblem(safe), safe).toBeUndefined();
    }
    const found = problems({ ...cart, include: { containers: [[{ dimension: 'pageURL', op: 'matches', value: '(a+)+$' }]] } });
    expect(found).toHaveLength(1);
    expect(found[0]).toMatch(/^include\.containers\.0\.0\.value: unsafe pattern/);
  });
});

describe('trigger store', () => {
  let redis: RedisPort;
  let keys: Keys;

  beforeAll(async () => {
    redis = await connectRedis({ url: inject('redisUrl') }, { connectTimeoutMs: 10_000, name: 'test' });
  });
  afterAll(async () => {
    await redis.close();
  });

  const fresh = (): Keys => (keys = new Keys(newPrefix(), 4));

  it('keeps triggerId and slot across updates, bumps the version only on change', async () => {
    fresh();
    const created = await putTrigger(redis, keys, cart, 1000);
    const other = await putTrigger(redis, keys, { ...cart, id: 'browse' }, 1000);
    expect(created).toMatchObject({ id: 'cart-abandonment', version: 1, updatedAt: 1000 });
    expect(created.triggerId).toMatch(/^[0-9a-f-]{36}$/);
    expect(other.slot).toBeGreaterThan(created.slot);
    expect(other.triggerId).not.toBe(created.triggerId);

    const versionBefore = await redis.get(keys.definitionsVersion());
    const same = await putTrigger(redis, keys, { ...cart, inactivity: '600s' }, 2000);
    expect(same).toEqual(created);
    expect(await redis.get(keys.definitionsVersion())).toBe(versionBefore);

    const changed = await putTrigger(redis, keys, { ...cart, enabled: false }, 3000);
    expect(changed).toMatchObject({ triggerId: created.triggerId, slot: created.slot, version: 2, updatedAt: 3000, enabled: false });
    expect(Number(await redis.get(keys.definitionsVersion()))).toBe(Number(versionBefore) + 1);

    const { triggers, invalid } = await loadTriggers(redis, keys);
    expect(invalid).toEqual([]);
    expect(triggers.map((t) => [t.id, t.version, t.enabled])).toEqual([
      ['cart-abandonment', 2, false],
      ['browse', 1, true],
    ]);
  });

  it('refuses an invalid trigger without storing anything', async () => {
    fresh();
    await expect(putTrigger(redis, keys, { ...cart, id: 'Nope' })).rejects.toMatchObject({ code: 'TRIGGER_INVALID', status: 422 });
    expect(await redis.get(keys.definitionsVersion())).toBeNull();
    expect((await loadTriggers(redis, keys)).triggers).toEqual([]);
  });

  it('deletes, and a re-created trigger gets a new identity and a new slot', async () => {
    fresh();
    const first = await putTrigger(redis, keys, cart);
    expect(await deleteTrigger(redis, keys, 'cart-abandonment')).toBe(true);
    expect(await deleteTrigger(redis, keys, 'cart-abandonment')).toBe(false);
    expect((await loadTriggers(redis, keys)).triggers).toEqual([]);
    const again = await putTrigger(redis, keys, cart);
    expect(again.triggerId).not.toBe(first.triggerId);
    expect(again.slot).toBeGreaterThan(first.slot);
    expect(again.version).toBe(1);
  });

  it('reports a stored trigger that no longer validates instead of returning it', async () => {
    fresh();
    await putTrigger(redis, keys, cart);
    await redis.hset(keys.definitions('triggers'), 'broken', JSON.stringify({ document: { ...cart, id: 'broken', type: 'never' }, triggerId: crypto.randomUUID(), slot: 9, version: 1, updatedAt: 1 }));
    await redis.hset(keys.definitions('triggers'), 'garbage', '{not json');
    const { triggers, invalid } = await loadTriggers(redis, keys);
    expect(triggers.map((t) => t.id)).toEqual(['cart-abandonment']);
    expect(invalid.map((i) => i.id).sort()).toEqual(['broken', 'garbage']);
    expect(invalid.find((i) => i.id === 'broken')?.error).toContain('type:');
  });

  it('records when a version went live: the first writer wins', async () => {
    fresh();
    const v1 = await putTrigger(redis, keys, cart);
    expect(await recordLive(redis, keys, v1, 5000)).toBe(5000);
    expect(await recordLive(redis, keys, v1, 7000)).toBe(5000);
    const v2 = await putTrigger(redis, keys, { ...cart, name: 'Cart abandonment v2' });
    expect(await recordLive(redis, keys, v2, 9000)).toBe(9000);
  });

  it('DefinitionsWatcher sees a change within two polls and survives a failing load', async () => {
    fresh();
    await putTrigger(redis, keys, cart);
    let failNext = false;
    const load = async (): Promise<string[]> => {
      if (failNext) {
        failNext = false;
        throw new Error('load failed');
      }
      return (await loadTriggers(redis, keys)).triggers.map((t) => `${t.id}@${t.version}`);
    };
    const watcher = new DefinitionsWatcher(redis, keys, load, { pollMs: 100, logger: createLogger('silent') });
    const seen: string[][] = [];
    watcher.onChange((value) => seen.push(value));
    try {
      expect(await watcher.start()).toEqual(['cart-abandonment@1']);
      await putTrigger(redis, keys, { ...cart, name: 'renamed' });
      await expect.poll(() => watcher.current, { timeout: 250, interval: 20 }).toEqual(['cart-abandonment@2']);
      expect(seen).toEqual([['cart-abandonment@2']]);

      failNext = true;
      await deleteTrigger(redis, keys, 'cart-abandonment');
      await new Promise((resolve) => setTimeout(resolve, 150));
      await expect.poll(() => watcher.current, { timeout: 400, interval: 20 }).toEqual([]);
      expect(seen).toEqual([['cart-abandonment@2'], []]);
    } finally {
      watcher.stop();
    }
  });
});

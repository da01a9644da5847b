// Resource definitions and rows, and the suppression list, in Redis (standalone and cluster):
// what is stored and read back, the definitions version moving only on a change, and the
// invalidation message each write publishes.
import { afterEach, describe, expect, inject, it } from 'vitest';
import type { RedisPort, Subscription } from '../../src/core/redis/client.js';
import { Keys } from '../../src/core/redis/keys.js';
import { parseInvalidation, type Invalidation } from '../../src/model/cache-invalidation.js';
import { deleteResource, deleteRows, getResource, getRows, listResources, putResource, requireResource, upsertRows } from '../../src/model/resource-store.js';
import { addSuppressions, listSuppressions } from '../../src/model/suppressions.js';
import { waitFor } from '../support/processes.js';
import { connect, newPrefix, targets } from '../stages/pipeline-helpers.js';

const cleanup: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
});

describe.each(targets(inject('redisUrl'), inject('redisClusterSeeds')))('resources and suppressions on $name Redis', (target) => {
  async function setUp() {
    const redis: RedisPort = await connect(target);
    cleanup.push(() => redis.close());
    const keys = new Keys(newPrefix(), 16);
    const received: Invalidation[] = [];
    const subscription: Subscription = await redis.subscribe(keys.invalidations(), (m) => received.push(parseInvalidation(m) as Invalidation), () => {});
    cleanup.push(() => subscription.close());
    return { redis, keys, received };
  }

  it('stores definitions, bumping the definitions version only when one changes', async () => {
    const { redis, keys } = await setUp();
    const version = async () => Number((await redis.get(keys.definitionsVersion())) ?? 0);
    expect(await getResource(redis, keys, 'catalog')).toEqual({ kind: 'Resource', id: 'catalog', key: 'sku' });
    expect(await getResource(redis, keys, 'stores')).toBeUndefined();
    await expect(requireResource(redis, keys, 'stores')).rejects.toMatchObject({ code: 'RESOURCE_UNKNOWN' });

    expect((await putResource(redis, keys, { kind: 'Resource', id: 'stores', key: 'storeId' })).changed).toBe(true);
    const afterCreate = await version();
    expect((await putResource(redis, keys, { kind: 'Resource', id: 'stores', key: 'storeId' })).changed).toBe(false);
    expect(await version()).toBe(afterCreate);
    expect((await putResource(redis, keys, { kind: 'Resource', id: 'stores', key: 'code' })).changed).toBe(true);
    expect(await version()).toBe(afterCreate + 1);
    expect((await listResources(redis, keys)).map((r) => `${r.id}:${r.key}`)).toEqual(['catalog:sku', 'stores:code']);
    await expect(putResource(redis, keys, { kind: 'Resource', id: 'Stores!', key: 'code' })).rejects.toMatchObject({ code: 'RESOURCE_INVALID', path: 'id' });

    expect(await deleteResource(redis, keys, 'stores')).toBe(true);
    expect(await getResource(redis, keys, 'stores')).toBeUndefined();
    expect(await version()).toBe(afterCreate + 2);
  });

  it('upserts, reads and deletes rows, announcing each batch once', async () => {
    const { redis, keys, received } = await setUp();
    await upsertRows(redis, keys, 'catalog', [
      { key: 'A', row: { sku: 'A', price: 1 } },
      { key: 'B', row: { sku: 'B', price: 2 } },
      { key: 'A', row: { sku: 'A', price: 3 } },
    ]);
    expect(await getRows(redis, keys, 'catalog', ['A', 'B', 'C'])).toEqual(
      new Map([
        ['A', { sku: 'A', price: 3 }],
        ['B', { sku: 'B', price: 2 }],
      ]),
    );
    expect(await deleteRows(redis, keys, 'catalog', ['B', 'C'])).toBe(1);
    expect(await getRows(redis, keys, 'catalog', ['B'])).toEqual(new Map());
    await waitFor('two messages', () => received.length === 2, 10_000, 20);
    expect(received).toEqual([{ resources: { catalog: ['A', 'B'] } }, { resources: { catalog: ['B', 'C'] } }]);
  });

  it('keeps the suppression list normalised, lists it page by page and announces changes', async () => {
    const { redis, keys, received } = await setUp();
    expect(await addSuppressions(redis, keys, ['A@Example.com', 'a@example.com ', '+1 555 0100'])).toBe(2);
    await expect(addSuppressions(redis, keys, ['ok@example.com', 'nope'])).rejects.toMatchObject({ code: 'SUPPRESSION_INVALID', index: 1 });
    const values: string[] = [];
    let cursor = '0';
    do {
      const page = await listSuppressions(redis, keys, cursor, 1);
      values.push(...page.values);
      cursor = page.cursor;
    } while (cursor !== '0');
    expect(values.sort()).toEqual(['+15550100', 'a@example.com']);
    await waitFor('the message', () => received.length === 1, 10_000, 20);
    expect(received[0]).toEqual({ suppressions: 2 });
  });
});

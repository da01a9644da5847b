// Dead letters through the admin API (SPEC §10): GET /admin/dlq lists them with their error,
// stream and partition; POST /admin/dlq/replay puts them back on their stream (and only once);
// POST /admin/dlq/purge removes them.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { makeDeadLetters, startTestAdmin, type TestAdmin } from './admin-helpers.js';

let admin: TestAdmin;
beforeAll(async () => {
  admin = await startTestAdmin({ url: inject('redisUrl') });
});
afterAll(() => admin.close());

interface Listed {
  id: string;
  stream: string;
  partition: number;
  group: string;
  error: string;
  deliveries: number;
  bytes: number;
}

const list = async (query = ''): Promise<{ deadLetters: Listed[]; total: number }> => (await admin.call('GET', `/admin/dlq${query}`)).body;

describe('dead letters', () => {
  it('lists every dead letter with its stream, partition, group, error and deliveries', async () => {
    const { redis, keys } = admin.runtime;
    await makeDeadLetters(redis, keys, 'hits', [0, 2]);
    await makeDeadLetters(redis, keys, 'fired', [1], 'campaign');
    const listed = await list();
    expect(listed.total).toBe(3);
    expect(listed.deadLetters.map((d) => [d.stream, d.partition, d.group]).sort()).toEqual([
      ['fired', 1, 'campaign'],
      ['hits', 0, 'detect'],
      ['hits', 2, 'detect'],
    ]);
    expect(listed.deadLetters.find((d) => d.partition === 2)).toMatchObject({ id: expect.stringMatching(/^2\/hits\/\d+-\d+$/), error: 'HIT_INVALID: poison in partition 2', deliveries: 5, bytes: expect.any(Number) });
    expect((await list('?stream=fired')).deadLetters).toHaveLength(1);
    expect((await list('?limit=1')).deadLetters).toHaveLength(1);
  });

  it('replays one dead letter onto its stream, once, with the same data', async () => {
    const { redis, keys } = admin.runtime;
    const target = (await list('?stream=fired')).deadLetters[0]!;
    const before = await redis.xrange(keys.stream(1, 'fired'));
    const replay = await admin.call('POST', '/admin/dlq/replay', { ids: [target.id] });
    expect(replay.body).toMatchObject({ replayed: [{ id: target.id, newEntryId: expect.any(String) }], missing: [], empty: [] });
    const after = await redis.xrange(keys.stream(1, 'fired'));
    expect(after).toHaveLength(before.length + 1);
    expect(after[after.length - 1]?.data).toEqual(before[0]?.data);
    expect((await admin.call('POST', '/admin/dlq/replay', { ids: [target.id] })).body).toMatchObject({ replayed: [], missing: [target.id] });
    expect((await list()).total).toBe(2);
  });

  it('replays all of a stream, then purges by id and all', async () => {
    const { redis, keys } = admin.runtime;
    const all = await admin.call('POST', '/admin/dlq/replay', { all: true, stream: 'hits' });
    expect(all.body.replayed).toHaveLength(2);
    expect(await redis.xlen(keys.stream(0, 'hits'))).toBe(2);
    await makeDeadLetters(redis, keys, 'out:email', [3, 3], 'deliver');
    const [one, two] = (await list()).deadLetters;
    expect((await admin.call('POST', '/admin/dlq/purge', { ids: [one!.id] })).body).toEqual({ purged: 1 });
    expect((await list()).deadLetters.map((d) => d.id)).toEqual([two!.id]);
    expect((await admin.call('POST', '/admin/dlq/purge', { all: true })).body).toEqual({ purged: 1 });
    expect((await list()).total).toBe(0);
  });

  it('refuses a replay or purge that names nothing, or a malformed id', async () => {
    for (const body of [{}, { ids: ['x'], all: true }]) {
      const reply = await admin.call('POST', '/admin/dlq/purge', body);
      expect(reply.status).toBe(400);
      expect(reply.body.error.code).toBe('ADMIN_BODY_MALFORMED');
    }
    expect((await admin.call('POST', '/admin/dlq/replay', { ids: ['nonsense'] })).status).toBe(400);
  });
});

describe('dead letters on a Redis Cluster', () => {
  it('lists and replays dead letters of partitions on different shards', async () => {
    const cluster = await startTestAdmin({ cluster: inject('redisClusterSeeds').split(',') });
    try {
      const { redis, keys } = cluster.runtime;
      await makeDeadLetters(redis, keys, 'hits', [0, 1, 2, 3]);
      expect((await cluster.call('GET', '/admin/dlq')).body.total).toBe(4);
      expect((await cluster.call('POST', '/admin/dlq/replay', { all: true })).body.replayed).toHaveLength(4);
      for (const p of keys.allPartitions()) expect(await redis.xlen(keys.stream(p, 'hits'))).toBe(2);
      expect((await cluster.call('GET', '/admin/dlq')).body.total).toBe(0);
    } finally {
      await cluster.close();
    }
  });
});

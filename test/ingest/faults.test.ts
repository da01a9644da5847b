// Failure behaviour: Redis stopped → 503 + Retry-After at once, restarted → 200 with no acked hit
// lost; overload (consumer lag, in-flight bytes) → 429 + Retry-After with bounded memory;
// source changes reach a running ingest within 5 s.
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { deleteSource, putSource } from '../../src/model/source-store.js';
import { startRedis, type RedisProcess } from '../support/redis-server.js';
import { startTestIngest, waitFor, type TestIngest } from './helpers.js';

function postHits(t: TestIngest, hits: unknown[], auth = t.auth): Promise<Response> {
  return fetch(`${t.base}/v1/hits`, { method: 'POST', headers: { authorization: auth, 'content-type': 'application/json' }, body: JSON.stringify(hits) });
}

describe('Redis stopped and restarted', () => {
  let redis: RedisProcess;
  let t: TestIngest;
  beforeAll(async () => {
    redis = await startRedis();
    t = await startTestIngest(redis.url);
  });
  afterAll(async () => {
    await t.close();
    await redis.stop();
  });

  it('answers 503 with Retry-After within 1 s while Redis is down, then 200 again without losing an acked hit', async () => {
    const acked: string[] = [];
    for (let i = 0; i < 20; i++) {
      const hits = [{ id: `before-${i}`, visitorId: `v${i}` }];
      if ((await postHits(t, hits)).status === 200) acked.push(`before-${i}`);
    }
    expect(acked).toHaveLength(20);
    await redis.stop();
    const started = Date.now();
    const down = await postHits(t, [{ id: 'during', visitorId: 'v' }]);
    expect(Date.now() - started).toBeLessThan(1000);
    expect(down.status).toBe(503);
    expect(down.headers.get('retry-after')).toBe('1');
    expect(await down.json()).toMatchObject({ error: { code: 'REDIS_UNAVAILABLE' } });
    expect((await fetch(`${t.base}/readyz`)).status).toBe(503);
    expect((await fetch(`${t.base}/healthz`)).status).toBe(200);
    await redis.restart();
    await waitFor(async () => ((await postHits(t, [{ id: 'after', visitorId: 'v' }])).status === 200 ? true : undefined), 15_000, 'ingest to answer 200 again');
    acked.push('after');
    const ids = new Set((await t.hits()).map((h) => h.id));
    for (const id of acked) expect(ids.has(id), id).toBe(true);
    expect(ids.has('during')).toBe(false);
  });
});

describe('overload', () => {
  let t: TestIngest;
  beforeAll(async () => {
    t = await startTestIngest(inject('redisUrl'), { maxLag: 3, overloadSample: '100ms', maxInFlightBytes: 65_536, requestTimeout: '3s' });
  });
  afterAll(() => t.close());

  it('answers 429 with Retry-After while in-flight bytes are used up, and never holds more than the bound', async () => {
    const stalled = Array.from({ length: 4 }, () => {
      const socket = connect(Number(new URL(t.base).port), '127.0.0.1');
      socket.on('error', () => {});
      socket.write(`POST /v1/hits HTTP/1.1\r\nHost: x\r\nAuthorization: ${t.auth}\r\nContent-Type: application/json\r\nContent-Length: 30000\r\n\r\n[`);
      return socket;
    });
    await waitFor(async () => (t.ingest.server.inFlightBytes >= 60_000 ? true : undefined), 3000, 'two bodies reserved');
    expect(t.ingest.server.inFlightBytes).toBeLessThanOrEqual(65_536);
    const refused = await postHits(t, [{ visitorId: 'x', dims: { pad: 'y'.repeat(10_000) } }]);
    expect(refused.status).toBe(429);
    expect(refused.headers.get('retry-after')).toBe('1');
    expect(await refused.json()).toMatchObject({ error: { code: 'INGEST_OVERLOADED' } });
    for (const socket of stalled) socket.destroy();
    await waitFor(async () => (t.ingest.server.inFlightBytes === 0 ? true : undefined), 3000, 'bytes released');
    expect((await postHits(t, [{ visitorId: 'x' }])).status).toBe(200);
  });

  it('answers 429 while the detect group lags more than ingest.maxLag, and recovers', async () => {
    const { redis, keys } = t.runtime;
    for (let i = 0; i < 10; i++) expect((await postHits(t, [{ visitorId: `lag-${i}` }])).status).toBe(200);
    for (const p of keys.allPartitions()) await redis.xgroupCreate(keys.stream(p, 'hits'), 'detect', '0');
    const refused = await waitFor(async () => {
      const response = await postHits(t, [{ visitorId: 'late' }]);
      return response.status === 429 ? response : undefined;
    }, 3000, '429');
    expect(refused.headers.get('retry-after')).toBe('1');
    expect(await refused.json()).toMatchObject({ error: { code: 'INGEST_OVERLOADED' } });
    expect((await fetch(`${t.base}/readyz`)).status).toBe(503);
    // The consumers catch up: the group's lag drops to 0.
    for (const p of keys.allPartitions()) {
      await redis.xreadgroup(keys.stream(p, 'hits'), 'detect', 'c', '>', 1000);
    }
    await waitFor(async () => ((await postHits(t, [{ visitorId: 'ok' }])).status === 200 ? true : undefined), 3000, '200 after catch-up');
  });
});

describe('Redis memory near maxmemory', () => {
  let redis: RedisProcess;
  let t: TestIngest;
  beforeAll(async () => {
    redis = await startRedis({ extraArgs: ['--maxmemory', '32mb', '--maxmemory-policy', 'noeviction'] });
    t = await startTestIngest(redis.url, { maxRedisMemoryRatio: 0.5, overloadSample: '100ms' });
  });
  afterAll(async () => {
    await t.close();
    await redis.stop();
  });

  it('answers 429 with Retry-After over ingest.maxRedisMemoryRatio, writes nothing, and recovers when memory is freed', async () => {
    expect((await postHits(t, [{ id: 'roomy', visitorId: 'm' }])).status).toBe(200);
    const { redis: port, keys } = t.runtime;
    const ballast = `${keys.prefix}:test-ballast`;
    for (let i = 0; i < 10; i++) await port.hset(ballast, `x${i}`, 'b'.repeat(2 * 1024 * 1024));
    let attempt = 0;
    const refused = await waitFor(async () => {
      const response = await postHits(t, [{ id: `crowded-${++attempt}`, visitorId: 'm' }]);
      return response.status === 429 ? response : undefined;
    }, 3000, '429');
    const refusedId = `crowded-${attempt}`; // earlier attempts came before the monitor's sample
    expect(refused.headers.get('retry-after')).toBe('1');
    expect(await refused.json()).toMatchObject({ error: { code: 'INGEST_OVERLOADED', message: expect.stringContaining('maxmemory') } });
    for (let i = 0; i < 10; i++) await port.hdel(ballast, `x${i}`);
    await waitFor(async () => ((await postHits(t, [{ id: 'roomy-again', visitorId: 'm' }])).status === 200 ? true : undefined), 3000, '200 after memory freed');
    const ids = (await t.hits()).map((h) => h.id);
    expect(ids).toContain('roomy');
    expect(ids).toContain('roomy-again');
    expect(ids).not.toContain(refusedId);
  });
});

describe('sources', () => {
  let t: TestIngest;
  beforeAll(async () => {
    t = await startTestIngest(inject('redisUrl'));
  });
  afterAll(() => t.close());

  it('a new source and a removed one reach a running ingest within 5 s', async () => {
    const { redis, keys } = t.runtime;
    const auth = `Basic ${Buffer.from('wk_new_source_42:').toString('base64')}`;
    expect((await postHits(t, [{ visitorId: 'n' }], auth)).status).toBe(401);
    const started = Date.now();
    await putSource(redis, keys, { kind: 'Source', id: 'app', writeKeys: ['wk_new_source_42'] });
    await waitFor(async () => ((await postHits(t, [{ visitorId: 'n' }], auth)).status === 200 ? true : undefined), 5000, 'the new key to work');
    expect(Date.now() - started).toBeLessThan(5000);
    expect((await t.hits()).find((h) => h.visitorId === 'n')?.source).toBe('app');
    await deleteSource(redis, keys, 'app');
    await waitFor(async () => ((await postHits(t, [{ visitorId: 'n' }], auth)).status === 401 ? true : undefined), 5000, 'the removed key to be refused');
  });

  it('refuses an invalid source definition with every problem and its path', async () => {
    const { redis, keys } = t.runtime;
    await expect(putSource(redis, keys, { kind: 'Source', id: 'bad id!', writeKeys: [], visit: { inactivity: 'soon' } } as never)).rejects.toMatchObject({
      code: 'SOURCE_INVALID',
      message: expect.stringMatching(/id:[\s\S]*writeKeys:[\s\S]*visit\.inactivity:/),
    });
  });
});

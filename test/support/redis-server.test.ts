// Smoke tests for the redis test harness: shared standalone + cluster, and AOF survival across restart.
import { Cluster, Redis } from 'ioredis';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { startRedis } from './redis-server.js';

/** "h1:p1,h2:p2" -> ioredis cluster startup nodes. */
function parseSeeds(seeds: string): { host: string; port: number }[] {
  return seeds.split(',').map((s) => {
    const [host = '127.0.0.1', port = ''] = s.split(':');
    return { host, port: Number(port) };
  });
}

describe('provided redis servers', () => {
  const redis = new Redis(inject('redisUrl'), { lazyConnect: true });
  const cluster = new Cluster(parseSeeds(inject('redisClusterSeeds')), { lazyConnect: true });
  afterAll(async () => {
    await Promise.all([redis.quit(), cluster.quit()]);
  });

  it('standalone SET/GET works', async () => {
    await redis.set('harness:standalone', 'ok');
    expect(await redis.get('harness:standalone')).toBe('ok');
  });

  it('cluster SET/GET works on many hash slots', async () => {
    await cluster.set('harness:cluster', 'ok');
    expect(await cluster.get('harness:cluster')).toBe('ok');
    for (let i = 0; i < 16; i++) {
      await cluster.set(`{p${i}}:x`, `v${i}`);
    }
    for (let i = 0; i < 16; i++) {
      expect(await cluster.get(`{p${i}}:x`)).toBe(`v${i}`);
    }
  });
});

describe('startRedis', () => {
  it('keeps data across restart with appendonly', async () => {
    const server = await startRedis({ appendonly: true });
    try {
      const pidBefore = server.pid;
      let client = new Redis(server.url);
      await client.set('durable', 'yes');
      await client.quit();

      await server.restart();
      expect(server.pid).not.toBe(pidBefore);

      client = new Redis(server.url);
      expect(await client.get('durable')).toBe('yes');
      await client.quit();
    } finally {
      await server.stop();
    }
  });
});

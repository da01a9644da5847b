// The lag of a consumer group as Rebound reads it (RedisPort.xinfoGroups, behind `rebound status`,
// the lag gauges, ingest's overload check and the e2e tests' "drained"): Redis's counter can say
// entries wait when none does (here made stale with XGROUP SETID … ENTRIESREAD); the lag is then
// 0, and a real waiting entry still counts.
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { connectRedis, type RedisPort } from '../../src/core/redis/client.js';
import { newPrefix } from './pipeline-helpers.js';

let redis: RedisPort;
let admin: Redis;
beforeAll(async () => {
  redis = await connectRedis({ url: inject('redisUrl') }, { connectTimeoutMs: 5000, name: 'test' });
  admin = new Redis(inject('redisUrl'));
});
afterAll(async () => {
  await redis.close();
  admin.disconnect();
});

describe('consumer group lag', () => {
  it('is 0 when every entry was delivered, even if Redis counts otherwise, and counts an entry that waits', async () => {
    const stream = `${newPrefix()}:{p0}:lag`;
    for (let i = 0; i < 3; i++) await redis.xadd(stream, Buffer.from(`e${i}`));
    await redis.xgroupCreate(stream, 'g', '0');
    await redis.xreadgroup(stream, 'g', 'c', '>', 10);
    // Everything is delivered; the counter is made stale.
    await admin.call('XGROUP', 'SETID', stream, 'g', '$', 'ENTRIESREAD', '0');
    const raw = (await admin.call('XINFO', 'GROUPS', stream)) as unknown[][];
    expect(raw[0]?.[(raw[0] as unknown[]).indexOf('lag') + 1]).toBe(3);
    expect((await redis.xinfoGroups(stream)).find((g) => g.name === 'g')?.lag).toBe(0);
    await redis.xadd(stream, Buffer.from('e3'));
    expect((await redis.xinfoGroups(stream)).find((g) => g.name === 'g')?.lag).toBeGreaterThan(0);
  });
});

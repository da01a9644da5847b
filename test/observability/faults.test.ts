// Observability while Redis is down: the process keeps answering /metrics and /status, says Redis
// is unreachable, exports no stale stream figures, and recovers them once Redis is back. And the
// metrics port answers only its two routes.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ProcessStatus } from '../../src/stages/runtime/process-status.js';
import { waitFor } from '../support/processes.js';
import { startRedis, type RedisProcess } from '../support/redis-server.js';
import { newPrefix } from '../stages/pipeline-helpers.js';
import { configFile, scrape, startRebound, valueOf, type ReboundProcess } from './helpers.js';

let redis: RedisProcess;
let rebound: ReboundProcess;

beforeAll(async () => {
  redis = await startRedis();
  rebound = await startRebound(['--roles', 'detect', '--config', configFile({ prefix: newPrefix(), partitions: 4, redis: { url: redis.url } })]);
});
afterAll(async () => {
  await rebound.stop();
  await redis.stop();
});

const lagSeries = async (): Promise<number> => (await scrape(rebound.metricsUrl)).samples.filter((s) => s.name === 'rebound_stream_lag').length;

describe('a Redis outage seen from the metrics port', () => {
  it('reports Redis down, drops the stream figures rather than show stale ones, and recovers', async () => {
    expect(valueOf(await scrape(rebound.metricsUrl), 'rebound_redis_up')).toBe(1);
    expect(await lagSeries()).toBe(1);

    await redis.kill9();
    await waitFor('Redis seen down', async () => valueOf(await scrape(rebound.metricsUrl), 'rebound_redis_up') === 0, 20_000, 100);
    expect(await lagSeries()).toBe(0);
    const status = (await (await fetch(rebound.statusUrl)).json()) as ProcessStatus;
    expect(status.redis.status).not.toBe('ready');
    expect(status.pipeline).toEqual({ error: { code: 'REDIS_UNAVAILABLE', message: expect.any(String) } });

    await redis.restart();
    await waitFor('the stream gauges back', async () => (await lagSeries()) === 1, 30_000, 200);
    expect(valueOf(await scrape(rebound.metricsUrl), 'rebound_redis_up')).toBe(1);
  });

  it('answers 404 METRICS_ROUTE_NOT_FOUND outside GET /metrics and GET /status', async () => {
    const base = rebound.metricsUrl.replace(/\/metrics$/, '');
    for (const [method, path] of [['GET', '/'], ['POST', '/metrics'], ['GET', '/statusx']] as const) {
      const response = await fetch(`${base}${path}`, { method });
      expect(response.status).toBe(404);
      expect(((await response.json()) as { error: { code: string } }).error.code).toBe('METRICS_ROUTE_NOT_FOUND');
    }
  });
});

// The installation's stream gauges: summed over partitions by logical stream, exported by the one
// process holding the metrics lease (the others export none of these series), read from Redis at
// most once per cache period, handed over when the holder stops or dies; on one Redis and on a
// Redis Cluster. Then two real processes: one exports the gauges, and the other takes over.
import { afterAll, describe, expect, inject, it } from 'vitest';
import { encode } from '../../src/core/codec.js';
import { createLogger } from '../../src/core/log.js';
import { metricsRegistry } from '../../src/core/metrics.js';
import { Keys } from '../../src/core/redis/keys.js';
import { Lease } from '../../src/core/status-lease.js';
import { StreamGaugeCollector } from '../../src/stages/runtime/stream-gauges.js';
import { waitFor } from '../support/processes.js';
import { connect, newPrefix, targets } from '../stages/pipeline-helpers.js';
import { configFile, parseExposition, runCli, scrape, startRebound, valueOf, type ReboundProcess } from './helpers.js';
import type { StatusReport } from '../../src/cli/status-report.js';

const logger = createLogger('silent');
const gauges = async () => parseExposition(await metricsRegistry.metrics());

describe.each(targets(inject('redisUrl'), inject('redisClusterSeeds')))('stream gauges on $name', (target) => {
  it('one of two collectors exports the sums over partitions; the other exports nothing; the lease moves when the holder stops', async () => {
    const redis = await connect(target);
    const keys = new Keys(newPrefix(), 4);
    const a = new StreamGaugeCollector(redis, keys, { owner: 'proc-a', leaseMs: 15_000, cacheMs: 0, logger });
    const b = new StreamGaugeCollector(redis, keys, { owner: 'proc-b', leaseMs: 15_000, cacheMs: 0, logger });
    try {
      for (const p of [0, 1]) await redis.xgroupCreate(keys.stream(p, 'hits'), 'detect', '0');
      for (let i = 0; i < 3; i++) await redis.xadd(keys.stream(0, 'hits'), encode({ i }));
      for (let i = 0; i < 4; i++) await redis.xadd(keys.stream(1, 'hits'), encode({ i }));
      await redis.xreadgroup(keys.stream(0, 'hits'), 'detect', 'worker', '>', 2);
      await redis.xadd(keys.deadLetters(3, 'hits'), encode({ poison: true }));
      await a.start();
      await b.start();
      expect([a.leader, b.leader]).toEqual([true, false]);

      await a.refresh();
      let scraped = await gauges();
      expect(valueOf(scraped, 'rebound_stream_lag', { stream: 'hits', group: 'detect' })).toBe(5);
      expect(valueOf(scraped, 'rebound_stream_pending', { stream: 'hits', group: 'detect' })).toBe(2);
      expect(valueOf(scraped, 'rebound_stream_oldest_pending_seconds', { stream: 'hits', group: 'detect' })).toBeGreaterThanOrEqual(0);
      expect(valueOf(scraped, 'rebound_dlq_entries', { stream: 'hits' })).toBe(1);
      expect(valueOf(scraped, 'rebound_dlq_entries', { stream: 'fired' })).toBe(0);
      expect(scraped.samples.filter((s) => s.name === 'rebound_stream_lag')).toHaveLength(1); // one series per logical stream and group

      await b.refresh(); // what the other process's scrape would show: none of these series
      scraped = await gauges();
      expect(scraped.samples.filter((s) => /^rebound_(stream_|dlq_|timer_overdue)/.test(s.name))).toEqual([]);

      await a.stop();
      expect(await new Lease(redis, { key: keys.metricsLease(), owner: 'proc-b', ttlMs: 15_000, logger }).attempt()).toBe(true);
    } finally {
      await a.stop();
      await b.stop();
      await redis.close();
    }
  });

  it('reads Redis at most once per cache period', async () => {
    const redis = await connect(target);
    const keys = new Keys(newPrefix(), 4);
    const cached = new StreamGaugeCollector(redis, keys, { owner: 'cached', leaseMs: 15_000, cacheMs: 600_000, logger });
    try {
      await redis.xgroupCreate(keys.stream(2, 'fired'), 'campaign', '0');
      await redis.xadd(keys.stream(2, 'fired'), encode({ n: 1 }));
      await cached.start();
      expect((await cached.stats()).groups).toEqual([expect.objectContaining({ stream: 'fired', group: 'campaign', lag: 1 })]);
      await redis.xadd(keys.stream(2, 'fired'), encode({ n: 2 }));
      expect((await cached.stats()).groups).toEqual([expect.objectContaining({ lag: 1 })]);
      const fresh = new StreamGaugeCollector(redis, keys, { owner: 'fresh', leaseMs: 15_000, cacheMs: 0, logger });
      expect((await fresh.stats()).groups).toEqual([expect.objectContaining({ lag: 2 })]);
    } finally {
      await cached.stop();
      await redis.close();
    }
  });

  it('a lease whose holder died is taken once it expires, never before', async () => {
    const redis = await connect(target);
    const keys = new Keys(newPrefix(), 4);
    try {
      const dead = new Lease(redis, { key: keys.metricsLease(), owner: 'dead', ttlMs: 500, logger });
      const heir = new Lease(redis, { key: keys.metricsLease(), owner: 'heir', ttlMs: 500, logger });
      expect(await dead.attempt()).toBe(true); // then never renewed: its process died
      expect(await heir.attempt()).toBe(false);
      await waitFor('the dead holder\'s lease to expire', () => heir.attempt(), 10_000, 50);
      expect(await dead.attempt()).toBe(false);
      await heir.stop();
    } finally {
      await redis.close();
    }
  });
});

describe('two rebound processes on one installation', () => {
  const running: ReboundProcess[] = [];
  afterAll(async () => {
    for (const p of running) await p.stop();
  });

  it('only the lease holder exports the stream gauges; when it stops the other takes over; status lists both', async () => {
    const config = configFile({ prefix: newPrefix(), partitions: 4, redis: { url: inject('redisUrl') } });
    const first = await startRebound(['--roles', 'detect', '--config', config], { REBOUND_INSTANCE: 'obs-first' });
    running.push(first);
    const second = await startRebound(['--roles', 'detect', '--config', config], { REBOUND_INSTANCE: 'obs-second' });
    running.push(second);
    const lagSeries = async (p: ReboundProcess) => (await scrape(p.metricsUrl)).samples.filter((s) => s.name === 'rebound_stream_lag');
    expect(await lagSeries(first)).toEqual([expect.objectContaining({ labels: { stream: 'hits', group: 'detect' }, value: 0 })]);
    expect(await lagSeries(second)).toEqual([]);

    const report = JSON.parse((await runCli(['status', '--json', '--config', config])).stdout) as StatusReport;
    expect(report.processes.map((p) => [p.instance, p.state, p.streamGaugeLeader])).toEqual([
      ['obs-first', 'live', true],
      ['obs-second', 'live', false],
    ]);

    expect(await first.stop()).toBe(0);
    running.shift();
    await waitFor('the second process to export the gauges', async () => (await lagSeries(second)).length === 1, 20_000, 200);
    const after = JSON.parse((await runCli(['status', '--json', '--config', config])).stdout) as StatusReport;
    expect(after.processes.map((p) => p.instance)).toEqual(['obs-second']);
  });
});

// Observability of one process, whatever its roles: the metrics port (/metrics and /status), the
// process's entry in the registry of live processes, the streams its stages read (announced so
// that gauges and `rebound status` find them), and the stream-gauge collector with its lease.
// Started by `rebound start` before the roles and stopped after them, so a draining process
// still answers scrapes.
import { hostname } from 'node:os';
import type { Runtime } from '../../core/bootstrap.js';
import { gauge } from '../../core/metrics.js';
import { startMetricsServer, type MetricsServer } from '../../core/metrics-server.js';
import { ProcessRegistry, forgetStale, heartbeatMs } from '../../core/status-registry.js';
import { StatusWindow } from '../../core/status-window.js';
import { processStatus, statusSeries, type ProcessStatus } from './process-status.js';
import { servedStreams } from './stage-metrics.js';
import { StreamGaugeCollector } from './stream-gauges.js';
import { announceStreams } from './stream-stats.js';

/** Lease of the stream-gauge collector: a holder that dies is replaced within this. */
const leaseMs = 15_000;
/** Scrapes and /status calls within this share one read of the streams. */
const streamCacheMs = 2000;
/** Registry entries of processes gone this long are removed (until then `rebound status` lists them as gone). */
const forgetAfterMs = 10 * 60_000;
const forgetEveryMs = 60_000;

const processRole = gauge('rebound_process_role', 'Roles this process runs (1 per role): count by (role) gives the live processes of each role', ['role']);
const redisUp = gauge('rebound_redis_up', 'Whether this process is connected to Redis (1) or not (0), at scrape time');
const redisLastReply = gauge('rebound_redis_last_reply_timestamp_seconds', 'When a Redis command of this process last succeeded (Unix time)');

export interface Observability {
  server: MetricsServer;
  /** Heartbeat now: the registry entry, new streams of the stages started meanwhile. */
  announce(): Promise<void>;
}

/** Where other machines reach this port: the host name when it listens on every interface. */
function advertisedUrl(host: string, server: MetricsServer): string {
  return host === '0.0.0.0' || host === '::' ? `http://${hostname()}:${server.port}` : server.baseUrl;
}

/** Sets the gauges that describe this process itself; returns what refreshes them before a scrape. */
function processGauges(runtime: Runtime, roles: readonly string[], collector: StreamGaugeCollector): () => Promise<void> {
  const { redis } = runtime;
  for (const role of roles) processRole.labels(role).set(1);
  return async () => {
    redisUp.set(redis.status === 'ready' ? 1 : 0);
    if (redis.lastReplyAt > 0) redisLastReply.set(redis.lastReplyAt / 1000);
    await collector.refresh();
  };
}

/** One heartbeat: the registry entry, the streams of stages started since the last one, and (lease holder) stale entries removed. */
function heartbeat(runtime: Runtime, registry: ProcessRegistry, collector: StreamGaugeCollector): () => Promise<void> {
  const { redis, keys } = runtime;
  const announced = new Set<string>();
  let cleanedAt = 0;
  return async () => {
    await registry.beat();
    const fresh = [...servedStreams().keys()].filter((stream) => !announced.has(stream));
    if (fresh.length > 0) await announceStreams(redis, keys, fresh).then(() => fresh.forEach((stream) => announced.add(stream)), () => undefined);
    if (collector.leader && Date.now() - cleanedAt > forgetEveryMs) {
      cleanedAt = Date.now();
      await forgetStale(redis, keys, forgetAfterMs).catch(() => 0);
    }
  };
}

export async function startObservability(runtime: Runtime, roles: readonly string[]): Promise<Observability> {
  const { config, redis, keys, logger, lifecycle, consumer } = runtime;
  const identity = { instance: consumer, host: hostname(), roles, startedAt: Date.now() };
  const window = new StatusWindow(statusSeries);
  window.start();
  const collector = new StreamGaugeCollector(redis, keys, { owner: consumer, leaseMs, cacheMs: streamCacheMs, logger });
  await collector.start();
  const status = async (query: URLSearchParams): Promise<ProcessStatus> =>
    processStatus(identity, await window.read(), redis, collector.leader, query.get('streams') === '0' ? undefined : () => collector.stats());
  const server = await startMetricsServer(config.metrics.host, config.metrics.port, { beforeScrape: processGauges(runtime, roles, collector), status });
  const registry = new ProcessRegistry(redis, keys, { ...identity, roles: [...roles], pid: process.pid, metricsUrl: advertisedUrl(config.metrics.host, server) }, logger);
  const announce = heartbeat(runtime, registry, collector);
  await announce();
  const timer = setInterval(() => void announce(), heartbeatMs).unref();
  lifecycle.onShutdown('metrics server and process registry', async () => {
    clearInterval(timer);
    window.stop();
    await registry.stop();
    await collector.stop();
    await server.close();
  });
  logger.info({ url: server.url, status: `${server.baseUrl}/status` }, 'metrics at /metrics, status at /status');
  return { server, announce };
}

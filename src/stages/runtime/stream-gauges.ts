// The installation's stream gauges, read from Redis at scrape time by the one process holding the
// metrics lease; every other process exports none of these series, so that N processes neither
// read the same streams N times nor export N copies of one total. A read is cached for `cacheMs`
// (scrapes close together and /status share it).
import type { Logger } from '../../core/log.js';
import { gauge, metricsRegistry } from '../../core/metrics.js';
import type { RedisPort } from '../../core/redis/client.js';
import type { Keys } from '../../core/redis/keys.js';
import { Lease } from '../../core/status-lease.js';
import { collectStreamGaugesCentrally, streamGauges } from './stage-metrics.js';
import { knownStreams, pipelineStats, type PipelineStats } from './stream-stats.js';

export interface CollectorOptions {
  /** This process's name (the lease's owner). */
  owner: string;
  leaseMs: number;
  cacheMs: number;
  logger: Logger;
}

const timerOverdue = 'rebound_timer_overdue_seconds';

/**
 * A gauge without labels always has a value once registered, so the timer gauge is registered
 * only while this process exports the installation's figures.
 */
function setTimerOverdue(seconds: number | undefined): void {
  if (seconds === undefined) metricsRegistry.removeSingleMetric(timerOverdue);
  else gauge(timerOverdue, 'How long the most overdue trigger timer has been due, over all partitions (0 when none is late)').set(seconds);
}

function clearGauges(): void {
  for (const metric of Object.values(streamGauges)) metric.reset();
  setTimerOverdue(undefined);
}

function setGauges(stats: PipelineStats): void {
  clearGauges();
  for (const g of stats.groups) {
    streamGauges.lag.labels(g.stream, g.group).set(g.lag);
    streamGauges.pending.labels(g.stream, g.group).set(g.pending);
    streamGauges.oldestPending.labels(g.stream, g.group).set(g.oldestPendingMs / 1000);
  }
  for (const stream of stats.streams) streamGauges.deadLetters.labels(stream).set(stats.deadLetters.find((d) => d.stream === stream)?.entries ?? 0);
  setTimerOverdue(stats.timers.overdueMs / 1000);
}

export class StreamGaugeCollector {
  readonly #redis: RedisPort;
  readonly #keys: Keys;
  readonly #lease: Lease;
  readonly #cacheMs: number;
  #cached: { at: number; stats: Promise<PipelineStats> } | undefined;

  constructor(redis: RedisPort, keys: Keys, options: CollectorOptions) {
    this.#redis = redis;
    this.#keys = keys;
    this.#cacheMs = options.cacheMs;
    this.#lease = new Lease(redis, { key: keys.metricsLease(), owner: options.owner, ttlMs: options.leaseMs, logger: options.logger });
  }

  get leader(): boolean {
    return this.#lease.held;
  }

  async start(): Promise<void> {
    collectStreamGaugesCentrally();
    await this.#lease.start();
  }

  stop(): Promise<void> {
    clearGauges();
    return this.#lease.stop();
  }

  /** The pipeline's state, read from Redis at most once per `cacheMs` (never from cache while Redis is unreachable). */
  stats(): Promise<PipelineStats> {
    const now = Date.now();
    if (this.#cached === undefined || now - this.#cached.at >= this.#cacheMs || this.#redis.status !== 'ready') {
      const stats = knownStreams(this.#redis, this.#keys).then((streams) => pipelineStats(this.#redis, this.#keys, streams, now));
      const cached = { at: now, stats };
      this.#cached = cached;
      stats.catch(() => {
        if (this.#cached === cached) this.#cached = undefined;
      });
    }
    return this.#cached.stats;
  }

  /**
   * Before a scrape: the lease holder sets every stream gauge, another process clears them. With
   * Redis unreachable there are no figures rather than stale ones (the Redis-down alert says why).
   */
  async refresh(): Promise<void> {
    if (!this.#lease.held || this.#redis.status !== 'ready') return clearGauges();
    try {
      setGauges(await this.stats());
    } catch {
      clearGauges();
    }
  }
}

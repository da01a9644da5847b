// A lease in Redis held by at most one process of an installation (SET NX PX, renewed by its
// holder before it expires; lua/lease-1.lua). The stream-gauge collector uses it so that one
// process, not N, reads the streams' state at scrape time. A holder that dies loses the lease
// after `ttlMs`; another process takes it at its next attempt.
import type { Logger } from './log.js';
import type { RedisPort } from './redis/client.js';

export interface LeaseOptions {
  key: string;
  owner: string;
  ttlMs: number;
  logger: Logger;
}

export class Lease {
  readonly #redis: RedisPort;
  readonly #options: LeaseOptions;
  #held = false;
  #timer: NodeJS.Timeout | undefined;

  constructor(redis: RedisPort, options: LeaseOptions) {
    this.#redis = redis;
    this.#options = options;
  }

  /** True while this process holds the lease (as of the last attempt). */
  get held(): boolean {
    return this.#held;
  }

  /** Tries at once, then every third of the lease's time to live. */
  async start(): Promise<void> {
    await this.attempt();
    this.#timer ??= setInterval(() => void this.attempt(), Math.max(100, Math.floor(this.#options.ttlMs / 3))).unref();
  }

  /** Takes or renews the lease; a Redis failure counts as not holding it. */
  async attempt(): Promise<boolean> {
    const { key, owner, ttlMs, logger } = this.#options;
    try {
      const held = Number(await this.#redis.script('reboundLease', [key], [owner, ttlMs])) === 1;
      if (held !== this.#held) logger.info({ lease: key, held }, held ? 'lease taken' : 'lease lost');
      this.#held = held;
    } catch {
      this.#held = false;
    }
    return this.#held;
  }

  /** Stops renewing and gives the lease back, so another process takes it without waiting. */
  async stop(): Promise<void> {
    clearInterval(this.#timer);
    this.#timer = undefined;
    if (!this.#held) return;
    this.#held = false;
    await this.#redis.script('reboundLease', [this.#options.key], [this.#options.owner, 0]).catch(() => undefined);
  }
}

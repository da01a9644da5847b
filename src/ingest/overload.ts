// Overload signals sampled once per `ingest.overloadSample` (1 s), so requests only read two
// booleans: the `hits` consumer lag of group `detect` over `ingest.maxLag` (skipped while the
// group does not exist yet), and Redis used_memory over `ingest.maxRedisMemoryRatio` of maxmemory.
import { ReboundError } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import type { RedisPort } from '../core/redis/client.js';
import type { Keys } from '../core/redis/keys.js';

export interface OverloadOptions {
  maxLag: number;
  maxRedisMemoryRatio: number;
  sampleMs: number;
  group?: string;
}

export class OverloadMonitor {
  readonly #redis: RedisPort;
  readonly #keys: Keys;
  readonly #options: OverloadOptions;
  readonly #logger: Logger;
  #reason: string | undefined;
  #timer: NodeJS.Timeout | undefined;
  #sampling = false;

  constructor(redis: RedisPort, keys: Keys, options: OverloadOptions, logger: Logger) {
    this.#redis = redis;
    this.#keys = keys;
    this.#options = options;
    this.#logger = logger;
  }

  /** Why ingest sheds load now, or undefined. */
  get reason(): string | undefined {
    return this.#reason;
  }

  /** The refusal for a new request: Redis down first (503), then overload (429). */
  check(): ReboundError | undefined {
    if (this.#redis.status !== 'ready') return new ReboundError('REDIS_UNAVAILABLE', 'Redis is unreachable');
    if (this.#reason !== undefined) return new ReboundError('INGEST_OVERLOADED', `ingest is overloaded: ${this.#reason}`);
    return undefined;
  }

  start(): void {
    this.#timer = setInterval(() => void this.sample(), this.#options.sampleMs);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  async sample(): Promise<void> {
    if (this.#sampling) return;
    this.#sampling = true;
    try {
      const [lag, memory] = await Promise.all([this.#lag(), this.#memoryRatio()]);
      const previous = this.#reason;
      if (lag > this.#options.maxLag) this.#reason = `hits lag ${lag} > ingest.maxLag ${this.#options.maxLag}`;
      else if (memory > this.#options.maxRedisMemoryRatio) this.#reason = `Redis memory at ${(memory * 100).toFixed(0)} % of maxmemory`;
      else this.#reason = undefined;
      if (previous !== this.#reason) this.#logger.warn({ reason: this.#reason ?? 'none' }, 'ingest overload state changed');
    } catch (err) {
      // Redis down: requests get 503 from check(); keep the last overload state.
      this.#logger.debug({ err: (err as Error).message }, 'overload sample failed');
    } finally {
      this.#sampling = false;
    }
  }

  async #lag(): Promise<number> {
    const group = this.#options.group ?? 'detect';
    const infos = await Promise.all(this.#keys.allPartitions().map((p) => this.#redis.xinfoGroups(this.#keys.stream(p, 'hits'))));
    let lag = 0;
    for (const groups of infos) lag += groups.find((g) => g.name === group)?.lag ?? 0;
    return lag;
  }

  async #memoryRatio(): Promise<number> {
    const info = await this.#redis.info('memory');
    let worst = 0;
    // One `# Memory` section per master in a cluster: the fullest node decides.
    for (const section of info.split('# Memory')) {
      const used = Number(/used_memory:(\d+)/.exec(section)?.[1] ?? 0);
      const max = Number(/maxmemory:(\d+)/.exec(section)?.[1] ?? 0);
      if (max > 0) worst = Math.max(worst, used / max);
    }
    return worst;
  }
}

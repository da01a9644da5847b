// The sources every ingest process knows: write key → source, rsid → source, reloaded from
// Redis when the definitions version moves (polled every `ingest.sourcesPoll`, 1 s by default),
// so a change is live everywhere within a few seconds. A failed poll keeps the last good set.
import type { Logger } from '../core/log.js';
import type { RedisPort } from '../core/redis/client.js';
import type { Keys } from '../core/redis/keys.js';
import type { Source } from '../model/source.js';
import { definitionsVersion, loadSources } from '../model/source-store.js';

export class SourceRegistry {
  readonly #redis: RedisPort;
  readonly #keys: Keys;
  readonly #logger: Logger;
  #byWriteKey = new Map<string, Source>();
  #byId = new Map<string, Source>();
  #version: string | undefined;
  #timer: NodeJS.Timeout | undefined;
  #polling = false;

  constructor(redis: RedisPort, keys: Keys, logger: Logger) {
    this.#redis = redis;
    this.#keys = keys;
    this.#logger = logger;
  }

  byWriteKey(writeKey: string): Source | undefined {
    return this.#byWriteKey.get(writeKey);
  }

  byId(id: string): Source | undefined {
    return this.#byId.get(id);
  }

  /** Loads once (failing when Redis is unreachable), then polls every `pollMs`. */
  async start(pollMs: number): Promise<void> {
    await this.refresh();
    this.#timer = setInterval(() => void this.#poll(), pollMs);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  /** Reloads when the version changed since the last load. */
  async refresh(): Promise<void> {
    const version = await definitionsVersion(this.#redis, this.#keys);
    if (version === this.#version) return;
    const { sources, invalid } = await loadSources(this.#redis, this.#keys);
    for (const problem of invalid) this.#logger.error(problem, 'stored source does not validate; ignored');
    const byWriteKey = new Map<string, Source>();
    const byId = new Map<string, Source>();
    for (const source of sources) {
      byId.set(source.id, source);
      for (const key of source.writeKeys) byWriteKey.set(key, source);
    }
    this.#byWriteKey = byWriteKey;
    this.#byId = byId;
    this.#version = version;
    this.#logger.info({ version, sources: sources.length }, 'sources loaded');
  }

  async #poll(): Promise<void> {
    if (this.#polling) return;
    this.#polling = true;
    try {
      await this.refresh();
    } catch (err) {
      this.#logger.debug({ err: (err as Error).message }, 'sources poll failed; keeping the last set');
    } finally {
      this.#polling = false;
    }
  }
}

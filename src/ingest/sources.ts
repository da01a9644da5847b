// The sources every ingest process knows: write key → source, rsid → source, kept current by
// the definitions watcher (the version polled every `ingest.sourcesPoll`, 1 s by default), so a
// change is live everywhere within a few seconds. A failed poll keeps the last good set.
import type { Logger } from '../core/log.js';
import type { RedisPort } from '../core/redis/client.js';
import type { Keys } from '../core/redis/keys.js';
import { DefinitionsWatcher } from '../model/definitions-watcher.js';
import type { Source } from '../model/source.js';
import { loadSources } from '../model/source-store.js';

interface SourceMaps {
  byWriteKey: ReadonlyMap<string, Source>;
  byId: ReadonlyMap<string, Source>;
}

export class SourceRegistry {
  readonly #redis: RedisPort;
  readonly #keys: Keys;
  readonly #logger: Logger;
  #watcher: DefinitionsWatcher<SourceMaps> | undefined;

  constructor(redis: RedisPort, keys: Keys, logger: Logger) {
    this.#redis = redis;
    this.#keys = keys;
    this.#logger = logger;
  }

  byWriteKey(writeKey: string): Source | undefined {
    return this.#watcher?.current.byWriteKey.get(writeKey);
  }

  byId(id: string): Source | undefined {
    return this.#watcher?.current.byId.get(id);
  }

  /** Loads once (failing when Redis is unreachable), then polls every `pollMs`. */
  async start(pollMs: number): Promise<void> {
    this.#watcher = new DefinitionsWatcher(this.#redis, this.#keys, () => this.#load(), { pollMs, logger: this.#logger });
    await this.#watcher.start();
  }

  stop(): void {
    this.#watcher?.stop();
  }

  async #load(): Promise<SourceMaps> {
    const { sources, invalid } = await loadSources(this.#redis, this.#keys);
    for (const problem of invalid) this.#logger.error(problem, 'stored source does not validate; ignored');
    const byWriteKey = new Map<string, Source>();
    const byId = new Map<string, Source>();
    for (const source of sources) {
      byId.set(source.id, source);
      for (const key of source.writeKeys) byWriteKey.set(key, source);
    }
    this.#logger.info({ sources: sources.length }, 'sources loaded');
    return { byWriteKey, byId };
  }
}

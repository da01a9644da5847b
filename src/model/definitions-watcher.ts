// Keeps a value built from the definitions in Redis (triggers, their index, …) current in every
// process: one GET of the definitions version every `pollMs`, a reload only when it moved.
// The version is read *before* loading, so a change that lands during a load is seen by the next
// poll instead of being lost. A failed poll or load keeps the last good value.
import type { Logger } from '../core/log.js';
import type { RedisPort } from '../core/redis/client.js';
import type { Keys } from '../core/redis/keys.js';

export interface DefinitionsWatcherOptions {
  pollMs: number;
  logger: Logger;
}

export class DefinitionsWatcher<T> {
  readonly #redis: RedisPort;
  readonly #keys: Keys;
  readonly #load: () => Promise<T>;
  readonly #options: DefinitionsWatcherOptions;
  readonly #listeners: Array<(value: T) => void> = [];
  #value: { current: T } | undefined;
  #version: string | undefined;
  #timer: NodeJS.Timeout | undefined;
  #polling = false;

  constructor(redis: RedisPort, keys: Keys, load: () => Promise<T>, options: DefinitionsWatcherOptions) {
    this.#redis = redis;
    this.#keys = keys;
    this.#load = load;
    this.#options = options;
  }

  /** Loads once (failing when Redis is unreachable), then polls. Resolves with the first value. */
  async start(): Promise<T> {
    await this.#refresh();
    this.#timer ??= setInterval(() => void this.#poll(), this.#options.pollMs);
    this.#timer.unref();
    return this.current;
  }

  get current(): T {
    if (this.#value === undefined) throw new Error('DefinitionsWatcher.current read before start() resolved');
    return this.#value.current;
  }

  /** The definitions version the current value was loaded at. */
  get version(): string | undefined {
    return this.#version;
  }

  /** Called with each new value after a reload (not for the first load). */
  onChange(listener: (value: T) => void): void {
    this.#listeners.push(listener);
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  async #refresh(): Promise<boolean> {
    const version = (await this.#redis.get(this.#keys.definitionsVersion())) ?? '0';
    if (version === this.#version && this.#value !== undefined) return false;
    const value = await this.#load();
    const first = this.#value === undefined;
    this.#value = { current: value };
    this.#version = version;
    if (!first) this.#notify(value);
    return true;
  }

  #notify(value: T): void {
    for (const listener of this.#listeners) {
      try {
        listener(value);
      } catch (err) {
        this.#options.logger.error({ err: (err as Error).message }, 'definitions listener failed');
      }
    }
  }

  async #poll(): Promise<void> {
    if (this.#polling) return;
    this.#polling = true;
    try {
      if (await this.#refresh()) this.#options.logger.info({ version: this.#version }, 'definitions reloaded');
    } catch (err) {
      this.#options.logger.warn({ err: (err as Error).message }, 'definitions poll failed; keeping the last value');
    } finally {
      this.#polling = false;
    }
  }
}

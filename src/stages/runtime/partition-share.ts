// Partitions shared among the live processes of a stage (stages.partitions: shared): each process
// renews its membership every second (lua/members-1.lua, 3 s to live) and serves the partitions
// that fall to it when the sorted live members take the partitions in turn. A process that joins
// or leaves (or dies: its membership runs out) moves partitions within about a second; during
// that second two processes may read the same partition, which the stages tolerate (each commit
// is atomic and checked), so ownership only saves work: no re-reads of shared visitors in detect,
// warm caches, no empty reads of another process's partitions.
import { asReboundError } from '../../core/errors.js';
import type { Logger } from '../../core/log.js';
import type { RedisPort } from '../../core/redis/client.js';

export const MEMBERSHIP_TTL_MS = 3_000;
const RENEW_EVERY_MS = 1_000;

/** The partitions of `all` that fall to `me` when the sorted `members` take them in turn. */
export function assignPartitions(all: readonly number[], members: readonly string[], me: string): number[] {
  const at = members.indexOf(me);
  if (at < 0) return [...all];
  return all.filter((_, i) => i % members.length === at);
}

export class PartitionShare {
  readonly #redis: RedisPort;
  readonly #key: string;
  readonly #consumer: string;
  readonly #all: readonly number[];
  readonly #logger: Logger;
  readonly #onChange: (owned: readonly number[]) => void;
  #owned: readonly number[] = [];
  #members: readonly string[] = [];
  #timer: NodeJS.Timeout | undefined;
  #renewing: Promise<void> | undefined;
  #failing = false;

  constructor(redis: RedisPort, key: string, consumer: string, all: readonly number[], logger: Logger, onChange: (owned: readonly number[]) => void) {
    this.#redis = redis;
    this.#key = key;
    this.#consumer = consumer;
    this.#all = all;
    this.#logger = logger;
    this.#onChange = onChange;
  }

  /** The partitions this process serves now. */
  owned(): readonly number[] {
    return this.#owned;
  }

  /** Joins (the first renewal is awaited, so reads start with a share) and keeps renewing. */
  async start(): Promise<void> {
    await this.#renew();
    this.#timer = setInterval(() => {
      // One renewal at a time: while Redis is slow, skipped ticks are simply not made up.
      this.#renewing ??= this.#renew().finally(() => (this.#renewing = undefined));
    }, RENEW_EVERY_MS).unref();
  }

  /** Leaves at once, so the others take this process's partitions without waiting for it to expire. */
  async stop(): Promise<void> {
    clearInterval(this.#timer);
    await this.#renewing; // a renewal still on its way would otherwise join again after we left
    await this.#redis.script('reboundMembers', [this.#key], [this.#consumer, 0]).catch(() => undefined);
  }

  async #renew(): Promise<void> {
    try {
      const members = ((await this.#redis.script('reboundMembers', [this.#key], [this.#consumer, MEMBERSHIP_TTL_MS])) as unknown[]).map(String);
      this.#failing = false;
      if (members.join('\n') === this.#members.join('\n')) return;
      this.#members = members;
      this.#owned = assignPartitions(this.#all, members, this.#consumer);
      this.#onChange(this.#owned);
      this.#logger.info({ members: members.length, partitions: this.#owned }, 'partitions shared');
    } catch (err) {
      // Keep the last share: reads fail too while Redis is away, and resume with it.
      if (!this.#failing) this.#logger.warn({ err: asReboundError(err).message }, 'cannot renew the membership; keeping the current partitions');
      this.#failing = true;
      if (this.#members.length === 0 && this.#owned !== this.#all) {
        this.#owned = this.#all;
        this.#onChange(this.#owned);
      }
    }
  }
}

// The stage runtime: one consumer of one stage over the partitions this process serves.
// Reads each partition's own pending entries first, then new ones; keeps at most one batch per
// partition and `maxInFlight` batches in all; commits each batch atomically (commit.ts); every
// `recoverEvery` claims entries idle over `claimIdle` (from crashed or stuck consumers, or that
// failed here) and dead-letters those delivered `maxDeliveries` times; every `trimEvery` trims
// what all groups have acknowledged. Redis failures back off (jittered) and never end the loop.
// File is long-ish because the loop, its recovery and its shutdown share the in-flight state.
import { sleep } from '../../core/clock.js';
import { decode } from '../../core/codec.js';
import { ReboundError, asReboundError } from '../../core/errors.js';
import type { Logger } from '../../core/log.js';
import type { RedisPort, StreamEntry } from '../../core/redis/client.js';
import type { Keys } from '../../core/redis/keys.js';
import { redisErrorKind } from '../../core/redis/reply-errors.js';
import { backoffDelay, retry } from '../../core/retry.js';
import { commitBatch, deadLetter, errorText, type CommitTarget, type Failure, type Success } from './commit.js';
import { PartitionShare } from './partition-share.js';
import { fail, type ItemResult, type StageDefinition, type StageItem } from './stage.js';
import { stageMetrics, type StageMetrics } from './stage-metrics.js';

/** Errors after which the whole batch is tried again later: nothing is wrong with its entries. */
const retriedWhole = new Set(['REDIS_UNAVAILABLE', 'DETECT_STATE_CONFLICT']);

export interface RunnerSettings {
  batchSize: number;
  batchBytes: number;
  maxInFlight: number;
  claimIdleMs: number;
  maxDeliveries: number;
  idlePollMs: number;
  /** Pause after a round of reads in which no batch came back full, so that light traffic is read in fewer, bigger batches. */
  lingerMs: number;
  /** Share the partitions with the other live processes of this stage (stages.partitions: shared) instead of reading them all. */
  sharePartitions: boolean;
  recoverEveryMs: number;
  trimEveryMs: number;
}

export interface RunnerContext {
  redis: RedisPort;
  keys: Keys;
  consumer: string;
  partitions: readonly number[];
  settings: RunnerSettings;
  logger: Logger;
}

const redisBackoff = { baseMs: 50, capMs: 2000 };

/**
 * An entry decoded on first use: a stage that forwards entries never pays for decoding them.
 * A value that cannot be decoded throws CODEC_DECODE_FAILED (not retriable) from the stage,
 * which fails that item alone and dead-letters it (see #process).
 */
class LazyItem<T> implements StageItem<T> {
  #value: T | undefined;
  #decoded = false;

  constructor(
    readonly id: string,
    readonly data: Buffer,
    readonly deliveries: number,
  ) {}

  get value(): T {
    if (!this.#decoded) {
      this.#value = decode<T>(this.data);
      this.#decoded = true;
    }
    return this.#value as T;
  }
}

export class StageRunner<T = unknown> {
  readonly #stage: StageDefinition<T>;
  readonly #ctx: RunnerContext;
  readonly #metrics: StageMetrics;
  readonly #stop = new AbortController();
  readonly #inFlight = new Map<number, Promise<void>>();
  /** Per partition whose own pending entries (from before a restart) are still to read: the id to read after. */
  readonly #ownPending: Map<number, string>;
  #loop: Promise<void> | undefined;
  #recovering: Promise<void> = Promise.resolve();
  #timers: NodeJS.Timeout[] = [];
  #share: PartitionShare | undefined;
  #cursor = 0;
  /** Moving average of the entry size, which sets how many entries a read asks for. */
  #entryBytes = 0;

  constructor(stage: StageDefinition<T>, ctx: RunnerContext) {
    this.#stage = stage;
    this.#ctx = ctx;
    this.#metrics = stageMetrics(stage.name, stage.input);
    this.#ownPending = new Map(ctx.partitions.map((p) => [p, '0']));
  }

  get name(): string {
    return this.#stage.name;
  }

  /** The partitions this runner reads now (its share when the partitions are shared). */
  get partitions(): readonly number[] {
    return this.#readable();
  }

  async start(): Promise<void> {
    await this.#ensureGroups(this.#ctx.partitions);
    if (this.#ctx.settings.sharePartitions) {
      const { redis, keys, consumer, partitions, logger } = this.#ctx;
      this.#share = new PartitionShare(redis, keys.stageMembers(this.#stage.name, this.#stage.input), consumer, partitions, logger, (owned) => this.#metrics.partitions.set(owned.length));
      await this.#share.start();
    } else {
      this.#metrics.partitions.set(this.#ctx.partitions.length);
    }
    this.#loop = this.#run();
    const { recoverEveryMs, trimEveryMs } = this.#ctx.settings;
    this.#timers.push(setInterval(() => this.#startRecovery(), recoverEveryMs).unref());
    this.#timers.push(setInterval(() => void this.#trimAndMeasure(), trimEveryMs).unref());
  }

  /** Stops reading, lets in-flight batches commit, then resolves. Idempotent. */
  async stop(): Promise<void> {
    this.#stop.abort();
    for (const timer of this.#timers) clearInterval(timer);
    await this.#share?.stop();
    await this.#loop;
    await this.#recovering;
    await Promise.all(this.#inFlight.values());
  }

  #target(partition: number): CommitTarget {
    const { redis, keys } = this.#ctx;
    return { redis, keys, partition, input: this.#stage.input, group: this.#stage.name };
  }

  async #ensureGroups(partitions: readonly number[]): Promise<void> {
    const { redis, keys } = this.#ctx;
    await Promise.all(partitions.map((p) => redis.xgroupCreate(keys.stream(p, this.#stage.input), this.#stage.name, '0')));
  }

  async #run(): Promise<void> {
    const { settings } = this.#ctx;
    let idleRounds = 0;
    let failures = 0;
    while (!this.#stop.signal.aborted) {
      if (this.#inFlight.size >= settings.maxInFlight) {
        await Promise.race(this.#inFlight.values());
        continue;
      }
      const free = this.#freePartitions(settings.maxInFlight - this.#inFlight.size);
      if (free.length === 0) {
        await Promise.race(this.#inFlight.values());
        continue;
      }
      let reads: StreamEntry[][];
      try {
        reads = await Promise.all(free.map((p) => this.#read(p)));
        failures = 0;
      } catch (err) {
        failures++;
        await this.#onReadError(err, failures);
        continue;
      }
      let found = false;
      let full = false;
      const count = this.#readCount();
      reads.forEach((entries, i) => {
        if (entries.length === 0) return;
        found = true;
        if (entries.length >= count) full = true;
        const partition = free[i] as number;
        this.#launch(partition, () => this.#handle(partition, entries, undefined));
      });
      if (found || this.#inFlight.size > 0) idleRounds = 0;
      if (!found) {
        idleRounds++;
        await sleep(Math.min(settings.idlePollMs, 2 ** idleRounds), this.#stop.signal);
      } else if (!full && settings.lingerMs > 0) {
        await sleep(settings.lingerMs, this.#stop.signal);
      }
    }
  }

  /**
   * Up to `count` partitions without a batch in flight, starting after the last one the previous
   * round read: every partition is read within a few rounds, however many rounds linger.
   */
  #freePartitions(count: number): number[] {
    const partitions = this.#readable();
    const free: number[] = [];
    let next = this.#cursor;
    for (let i = 0; i < partitions.length && free.length < count; i++) {
      const at = (this.#cursor + i) % partitions.length;
      const p = partitions[at] as number;
      if (!this.#inFlight.has(p)) {
        free.push(p);
        next = at + 1;
      }
    }
    this.#cursor = partitions.length === 0 ? 0 : next % partitions.length;
    return free;
  }

  /** The partitions to read: all served ones, or this process's share plus those with own pending entries left. */
  #readable(): readonly number[] {
    if (this.#share === undefined) return this.#ctx.partitions;
    const owned = this.#share.owned();
    if (this.#ownPending.size === 0) return owned;
    return [...new Set([...owned, ...this.#ownPending.keys()])];
  }

  /** Entries per read: `batchSize`, fewer when entries are big, so a batch is about `batchBytes`. */
  #readCount(): number {
    const { batchSize, batchBytes } = this.#ctx.settings;
    return this.#entryBytes === 0 ? batchSize : Math.max(1, Math.min(batchSize, Math.floor(batchBytes / this.#entryBytes)));
  }

  #observe(entries: readonly StreamEntry[]): StreamEntry[] {
    if (entries.length === 0) return entries as StreamEntry[];
    let bytes = 0;
    for (const entry of entries) bytes += entry.data?.length ?? 0;
    const size = bytes / entries.length;
    this.#entryBytes = this.#entryBytes === 0 ? size : 0.8 * this.#entryBytes + 0.2 * size;
    return entries as StreamEntry[];
  }

  async #read(partition: number): Promise<StreamEntry[]> {
    const { redis, keys, consumer } = this.#ctx;
    const key = keys.stream(partition, this.#stage.input);
    const count = this.#readCount();
    const after = this.#ownPending.get(partition);
    if (after !== undefined) {
      const pending = this.#observe(await redis.xreadgroup(key, this.#stage.name, consumer, after, count));
      const last = pending[pending.length - 1];
      if (last) {
        this.#ownPending.set(partition, last.id);
        return pending;
      }
      this.#ownPending.delete(partition);
    }
    return this.#observe(await redis.xreadgroup(key, this.#stage.name, consumer, '>', count));
  }

  async #onReadError(err: unknown, failures: number): Promise<void> {
    if (redisErrorKind(err) === 'noGroup' || (err instanceof ReboundError && redisErrorKind(err.cause) === 'noGroup')) {
      // The stream was deleted or Redis lost its data: recreate the groups and carry on.
      this.#ctx.logger.warn({ stage: this.name }, 'consumer group missing; recreating it');
      await this.#ensureGroups(this.#ctx.partitions).catch(() => undefined);
      return;
    }
    if (failures === 1) this.#ctx.logger.warn({ stage: this.name, err: asReboundError(err).message }, 'read failed; backing off');
    await sleep(backoffDelay(failures, redisBackoff), this.#stop.signal);
  }

  #launch(partition: number, work: () => Promise<void>): void {
    this.#metrics.inFlight.inc();
    const done = work()
      .catch((err: unknown) => this.#ctx.logger.error({ stage: this.name, err: asReboundError(err).message }, 'batch abandoned; it will be claimed again'))
      .finally(() => {
        this.#inFlight.delete(partition);
        this.#metrics.inFlight.dec();
      });
    this.#inFlight.set(partition, done);
  }

  /**
   * Processes and commits one batch. `deliveries` is known for claimed entries; new entries
   * were delivered once; own pending entries read at start count as redeliveries.
   */
  async #handle(partition: number, entries: StreamEntry[], deliveries: Map<string, number> | undefined): Promise<void> {
    const started = performance.now();
    this.#metrics.received.inc(entries.length);
    const redelivered = deliveries !== undefined || this.#ownPending.has(partition);
    const items: StageItem<T>[] = [];
    const undecodable: Failure[] = [];
    for (const entry of entries) {
      if (entry.data === undefined) undecodable.push({ id: entry.id, error: new ReboundError('CODEC_DECODE_FAILED', 'stream entry has no data field') });
      else items.push(new LazyItem<T>(entry.id, entry.data, deliveries?.get(entry.id) ?? 1));
    }
    const results = items.length > 0 ? await this.#process(items, partition) : [];
    if (results === undefined) return; // stopping with a batch that cannot be processed: left pending
    const successes: Success[] = [];
    const failures: Failure[] = [];
    let selfCommitted = 0;
    const exhausted: Array<Failure & { deliveries: number }> = [...undecodable.map((f) => ({ ...f, deliveries: 1 }))];
    items.forEach((item, i) => {
      const result = results[i] as ItemResult;
      if (result.ok && result.acknowledged) selfCommitted++;
      else if (result.ok) successes.push({ id: item.id, outputs: result.outputs, clearError: redelivered });
      else if (!result.error.retriable || item.deliveries >= this.#ctx.settings.maxDeliveries) exhausted.push({ id: item.id, error: result.error, deliveries: item.deliveries });
      else failures.push({ id: item.id, error: result.error });
    });
    // A batch its stage committed whole (detect, campaign) needs no commit call of its own.
    const committed = successes.length === 0 && failures.length === 0 ? 0 : await this.#withRedis(() => commitBatch(this.#target(partition), successes, failures));
    if (committed === undefined) return;
    for (const failure of exhausted) await this.#deadLetter(partition, failure.id, failure.deliveries, errorText(failure.error));
    this.#metrics.entries.ok.inc(committed + selfCommitted);
    this.#metrics.entries.duplicate.inc(successes.length - committed);
    this.#metrics.entries.failed.inc(failures.length);
    this.#metrics.seconds.observe((performance.now() - started) / 1000);
  }

  /**
   * The stage's results; undefined when stopping meanwhile. A batch that throws because Redis
   * is unavailable, or because its state kept changing under it (another process writing the
   * same keys), is retried whole with backoff and never counts as a failed delivery; one that
   * throws for any other reason is split into single items, so that one poison entry fails
   * alone and the rest of its batch goes on.
   */
  async #process(items: StageItem<T>[], partition: number): Promise<ItemResult[] | undefined> {
    return this.#withRedis(async () => {
      try {
        const results = await this.#stage.process(items, partition);
        if (results.length !== items.length) throw new Error(`stage ${this.name} returned ${results.length} results for ${items.length} items`);
        return results;
      } catch (err) {
        const error = asReboundError(err);
        if (retriedWhole.has(error.code)) throw error;
        if (items.length === 1) return [fail(error)];
        const results: ItemResult[] = [];
        for (const item of items) results.push(...((await this.#process([item], partition)) ?? [fail(error)]));
        return results;
      }
    });
  }

  /** Runs an operation until it succeeds (backing off) or the runner stops. */
  async #withRedis<R>(operation: () => Promise<R>): Promise<R | undefined> {
    try {
      return await retry(operation, {
        ...redisBackoff,
        attempts: Infinity,
        signal: this.#stop.signal,
        onRetry: (err, attempt) => {
          this.#metrics.retries.inc();
          if (attempt === 1) this.#ctx.logger.warn({ stage: this.name, err: asReboundError(err).message }, 'batch attempt failed; retrying');
        },
      });
    } catch (err) {
      if (this.#stop.signal.aborted) return undefined;
      throw err;
    }
  }

  async #deadLetter(partition: number, id: string, deliveries: number, error: string): Promise<void> {
    const moved = await this.#withRedis(() => deadLetter(this.#target(partition), id, deliveries, error));
    if (moved) {
      this.#metrics.entries.dead_lettered.inc();
      this.#ctx.logger.warn({ stage: this.name, partition, id, deliveries, error }, 'entry moved to the dead-letter stream');
    }
  }

  #startRecovery(): void {
    if (this.#stop.signal.aborted) return;
    this.#recovering = this.#recovering.then(() => this.#recover()).catch((err: unknown) => {
      this.#ctx.logger.warn({ stage: this.name, err: asReboundError(err).message }, 'recovery round failed');
    });
  }

  /** Dead-letters exhausted entries and claims idle ones, partition by partition. */
  async #recover(): Promise<void> {
    const { redis, keys, consumer, partitions, settings } = this.#ctx;
    for (const partition of partitions) {
      if (this.#stop.signal.aborted) return;
      const key = keys.stream(partition, this.#stage.input);
      const idle = await redis.xpendingIdle(key, this.#stage.name, settings.claimIdleMs, settings.batchSize);
      if (idle.length === 0) continue;
      const deliveries = new Map<string, number>();
      for (const entry of idle) {
        if (entry.deliveries >= settings.maxDeliveries) {
          const fallback = `STAGE_DELIVERIES_EXCEEDED: delivered ${entry.deliveries} times without being acknowledged`;
          await this.#deadLetter(partition, entry.id, entry.deliveries, fallback);
        } else deliveries.set(entry.id, entry.deliveries + 1);
      }
      const claimed = await redis.xclaim(key, this.#stage.name, consumer, settings.claimIdleMs, [...deliveries.keys()]);
      if (claimed.length === 0) continue;
      await this.#inFlight.get(partition);
      if (this.#stop.signal.aborted) return;
      await this.#handle(partition, claimed, deliveries);
    }
  }

  /** Trims the input streams and refreshes the lag and pending gauges of this stage's group. */
  async #trimAndMeasure(): Promise<void> {
    const { redis, keys, partitions } = this.#ctx;
    try {
      const streams = partitions.map((p) => keys.stream(p, this.#stage.input));
      await Promise.all(streams.map((key) => redis.script('reboundTrim', [key], [])));
      const groups = (await Promise.all(streams.map((key) => redis.xinfoGroups(key)))).flat().filter((g) => g.name === this.#stage.name);
      this.#metrics.lag.set(groups.reduce((sum, g) => sum + (g.lag ?? 0), 0));
      this.#metrics.pending.set(groups.reduce((sum, g) => sum + g.pending, 0));
    } catch (err) {
      this.#ctx.logger.debug({ stage: this.name, err: asReboundError(err).message }, 'trim skipped');
    }
  }
}

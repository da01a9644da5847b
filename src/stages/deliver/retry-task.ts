// The retry task: every `retryEvery`, takes the due retries of each channel in the partitions
// this process serves (leased, see lua/deliver-take.lua) and delivers them like outbox entries;
// also keeps the retries-waiting gauge. A failing round is logged and the next one tries again.
import { randomUUID } from 'node:crypto';
import { sleep } from '../../core/clock.js';
import { asReboundError } from '../../core/errors.js';
import type { ChannelDelivery, DeliveryContext } from './channel-delivery.js';
import { takeDueRetries } from './claims.js';
import { retriesWaiting } from './deliver-metrics.js';

export class RetryTask {
  readonly #ctx: DeliveryContext;
  readonly #deliveries: readonly ChannelDelivery[];
  readonly #partitions: readonly number[];
  readonly #stop = new AbortController();
  readonly #token = randomUUID();
  #loop: Promise<void> | undefined;

  constructor(ctx: DeliveryContext, deliveries: readonly ChannelDelivery[], partitions: readonly number[]) {
    this.#ctx = ctx;
    this.#deliveries = deliveries;
    this.#partitions = partitions;
  }

  start(): void {
    this.#loop ??= this.#run();
  }

  /** Lets the round in progress finish (its sends recorded), then resolves. Idempotent. */
  async stop(): Promise<void> {
    this.#stop.abort();
    await this.#loop;
  }

  async #run(): Promise<void> {
    let failures = 0;
    while (!this.#stop.signal.aborted) {
      try {
        await this.round();
        failures = 0;
      } catch (err) {
        if (failures++ === 0) this.#ctx.logger.warn({ err: asReboundError(err).message }, 'retry round failed; trying again');
      }
      await sleep(this.#ctx.settings.retryEveryMs, this.#stop.signal);
    }
  }

  /** One pass over every channel and partition (exposed for tests and the benchmark). */
  async round(): Promise<void> {
    await Promise.all(this.#deliveries.map((delivery) => this.#roundOf(delivery)));
  }

  async #roundOf(delivery: ChannelDelivery): Promise<void> {
    const { redis, keys, settings, clock } = this.#ctx;
    let waiting = 0;
    await Promise.all(
      this.#partitions.map(async (partition) => {
        const taken = await takeDueRetries(redis, keys, partition, delivery.channelName, clock.now(), settings.retryBatch, settings.retryLeaseMs, this.#token);
        if (taken.length > 0) await delivery.deliverRetries(partition, taken, this.#token);
        waiting += await redis.zcard(keys.deliveryRetries(partition, delivery.channelName));
      }),
    );
    retriesWaiting.labels(delivery.channelName).set(waiting);
  }
}

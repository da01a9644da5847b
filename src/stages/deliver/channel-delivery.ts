// Delivery of one channel in one process: claim → hand off → record, for a batch of outbox
// entries (the stage) or of due retries (the retry task). Hand-offs run concurrently within
// the channel's limit; a message that cannot get a slot before the batch's start deadline is
// deferred (retried soon, never sent twice). The outcomes of the whole batch are recorded in one
// Lua call, atomically with the XACK of the entries or the end of the retry leases; a Redis blip
// there is retried rather than failing the batch (which would resend what was just sent).
import type { Clock } from '../../core/clock.js';
import { decode } from '../../core/codec.js';
import { asReboundError } from '../../core/errors.js';
import type { Logger } from '../../core/log.js';
import type { RedisPort } from '../../core/redis/client.js';
import type { Keys } from '../../core/redis/keys.js';
import { retry } from '../../core/retry.js';
import type { Channel, SendResult } from '../../model/channel.js';
import type { ChannelName, OutboxMessage } from '../../model/message.js';
import type { Attempt, HandOff } from './attempt.js';
import { claimMessages, type Claim, type TakenRetry } from './claims.js';
import type { DeliverSettings } from './deliver-settings.js';
import { channelSends, resends } from './deliver-metrics.js';
import { countOutcomes, decideOutcome } from './outcomes.js';
import { Limiter } from './limiter.js';
import { checkOutboxMessage } from './outbox-message.js';
import { recordOutcomes, type RecordItem } from './record.js';

export interface DeliveryContext {
  redis: RedisPort;
  keys: Keys;
  settings: DeliverSettings;
  clock: Clock;
  logger: Logger;
  /** Aborted at shutdown: a record that keeps failing is then left to recovery. */
  signal: AbortSignal;
}

export interface OutboxEntry {
  entryId: string;
  message: OutboxMessage;
  data: Buffer;
}

const recordBackoff = { baseMs: 50, capMs: 2000 };

/** Races a send against the send timeout; a channel that throws is a transient failure. */
async function sendWithin(channel: Channel, message: OutboxMessage, timeoutMs: number): Promise<SendResult> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<SendResult>((resolve) => {
    timer = setTimeout(() => resolve({ ok: false, permanent: false, reply: `no answer within ${timeoutMs} ms` }), timeoutMs);
  });
  const send = Promise.resolve()
    .then(() => channel.send(message))
    .catch((err: unknown): SendResult => ({ ok: false, permanent: false, reply: `channel error: ${asReboundError(err).message}` }));
  try {
    return await Promise.race([send, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export class ChannelDelivery {
  readonly channelName: ChannelName;
  readonly channel: Channel;
  readonly #limiter: Limiter;
  readonly #ctx: DeliveryContext;

  constructor(ctx: DeliveryContext, channelName: ChannelName, channel: Channel) {
    this.#ctx = ctx;
    this.channelName = channelName;
    this.channel = channel;
    this.#limiter = new Limiter(ctx.settings.concurrency[channelName]);
  }

  /** Outbox entries of one batch of a partition. */
  async deliverEntries(partition: number, entries: readonly OutboxEntry[]): Promise<void> {
    if (entries.length === 0) return;
    const { redis, keys, clock, settings } = this.#ctx;
    const claimed = entries.map((e) => ({ messageId: e.message.id, entryId: e.entryId, expiresAt: e.message.expiresAt }));
    const claims = await claimMessages(redis, keys, partition, claimed, clock.now(), { claimMs: settings.claimRetentionMs, staleMs: settings.retryLeaseMs });
    const attempts = entries.map((e, i): Attempt => ({ message: e.message, source: 's', ref: e.entryId, data: e.data, claim: claims[i] as Claim }));
    await this.#complete(partition, attempts);
  }

  /** Retries taken from a partition's retry zset under `token`. */
  async deliverRetries(partition: number, taken: readonly TakenRetry[], token: string): Promise<void> {
    const attempts: Attempt[] = [];
    for (const retryItem of taken) {
      let message: OutboxMessage;
      try {
        message = checkOutboxMessage(decode(retryItem.data), this.channelName);
      } catch (err) {
        this.#ctx.logger.error({ partition, err: asReboundError(err).message }, 'a waiting retry cannot be decoded; left in place');
        continue;
      }
      const expired = this.#ctx.clock.now() >= message.expiresAt;
      const claim: Claim = expired ? { action: 'expired', attempt: retryItem.attempt - 1 } : { action: 'send', attempt: retryItem.attempt };
      attempts.push({ message, source: 'r', ref: token, data: undefined, claim });
    }
    await this.#complete(partition, attempts);
  }

  async #complete(partition: number, attempts: readonly Attempt[]): Promise<void> {
    const { settings, clock, signal } = this.#ctx;
    const startBy = Date.now() + settings.startWithinMs;
    const handOffs = await Promise.all(attempts.map((attempt) => this.#handOff(partition, attempt, startBy)));
    const now = clock.now();
    const items: RecordItem[] = attempts.map((attempt, i) => decideOutcome(attempt, handOffs[i] as HandOff, now, settings));
    const target = { ...this.#ctx, partition, channel: this.channelName, group: settings.group, recordRetentionMs: settings.recordRetentionMs, claimRetentionMs: settings.claimRetentionMs };
    const applied = await retry(() => recordOutcomes(target, items, now), { ...recordBackoff, attempts: Infinity, signal });
    countOutcomes(this.channelName, attempts, items, applied, settings.budgetMs);
  }

  async #handOff(partition: number, attempt: Attempt, startBy: number): Promise<HandOff> {
    const { action } = attempt.claim;
    if (action === 'skip' || action === 'expired') return { kind: 'none' };
    if (action === 'resend') resends.labels(this.channelName).inc();
    const { settings, clock } = this.#ctx;
    const result = await this.#limiter.run(() => sendWithin(this.channel, attempt.message, settings.sendTimeoutMs), startBy);
    if (result === undefined) return { kind: 'deferred' };
    channelSends.labels(this.channelName, result.ok ? 'ok' : result.permanent ? 'permanent' : 'transient').inc();
    const at = clock.now();
    if (result.ok && result.remoteIds !== undefined && this.channel.onReceipt !== undefined) await this.#mapRemoteIds(partition, attempt.message.id, result.remoteIds);
    return { kind: 'sent', result, at };
  }

  /** smscId → message, so a delivery receipt finds its record; best effort (a receipt is optional). */
  async #mapRemoteIds(partition: number, messageId: string, remoteIds: readonly string[]): Promise<void> {
    const { redis, keys, settings, logger } = this.#ctx;
    try {
      await Promise.all(remoteIds.filter(Boolean).map((id) => redis.setWithTtl(keys.smscMessage(id), `${partition}|${messageId}`, settings.receiptRetentionMs)));
    } catch (err) {
      logger.warn({ err: asReboundError(err).message }, 'cannot map SMSC message ids; their receipts will not be recorded');
    }
  }
}

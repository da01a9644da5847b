// Builds and runs lua/deliver-record.lua: the outcome of every message of a batch, atomically
// with the XACK of its outbox entry (or the end of its retry lease), in one call per partition.
// Resolves with, per item, whether this call applied it (only those are counted in metrics).
import type { RedisPort } from '../../core/redis/client.js';
import type { Keys } from '../../core/redis/keys.js';
import { outboxStream, type ChannelName } from '../../model/message.js';

export type Outcome = 'ack' | 'final' | 'retry';

export interface RecordItem {
  /** `s`: from an outbox entry (ref = entry id); `r`: from the retry zset (ref = lease token). */
  source: 's' | 'r';
  ref: string;
  messageId: string;
  eventId: string;
  triggerId: string;
  outcome: Outcome;
  status: string;
  reason: string;
  error: string;
  attempts: number;
  /** handedAt (processed) or nextAttemptAt (retry), epoch ms; 0 otherwise. */
  at: number;
  /** The message bytes, kept with a retry scheduled from an outbox entry. */
  data: Buffer | undefined;
  remoteId: string;
}

export interface RecordTarget {
  redis: RedisPort;
  keys: Keys;
  partition: number;
  channel: ChannelName;
  group: string;
  recordRetentionMs: number;
  claimRetentionMs: number;
}

export async function recordOutcomes(target: RecordTarget, items: readonly RecordItem[], now: number): Promise<boolean[]> {
  if (items.length === 0) return [];
  const { redis, keys, partition, channel } = target;
  const scriptKeys = [keys.stream(partition, outboxStream(channel)), keys.deliveryRetries(partition, channel)];
  const index = new Map<string, number>();
  const keyIndex = (key: string): number => {
    let at = index.get(key);
    if (at === undefined) {
      scriptKeys.push(key);
      at = scriptKeys.length;
      index.set(key, at);
    }
    return at;
  };
  const args: Array<string | number | Buffer> = [target.group, now, target.recordRetentionMs, target.claimRetentionMs, items.length];
  for (const item of items) {
    args.push(item.source, item.ref, item.messageId, item.outcome);
    args.push(keyIndex(keys.deliveryClaim(partition, item.messageId)), keyIndex(keys.message(partition, item.messageId)), keyIndex(keys.triggerStats(partition, item.triggerId)));
    args.push(item.eventId, item.status, item.reason, item.error, item.attempts, item.at, item.data ?? '', item.remoteId);
  }
  const applied = (await redis.script('reboundDeliverRecord', scriptKeys, args)) as number[];
  return applied.map((flag) => Number(flag) === 1);
}

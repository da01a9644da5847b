// The idempotency claims of a batch (lua/deliver-claim.lua) and the due retries taken for this
// process (lua/deliver-take.lua). See those scripts for what each state means.
import type { RedisPort } from '../../core/redis/client.js';
import type { Keys } from '../../core/redis/keys.js';
import type { ChannelName } from '../../model/message.js';

export type ClaimAction = 'send' | 'resend' | 'skip' | 'expired';

export interface Claim {
  action: ClaimAction;
  /** The attempt this send is (1 for the first), or the sends made so far when not sending. */
  attempt: number;
}

export async function claimMessages(
  redis: RedisPort,
  keys: Keys,
  partition: number,
  items: ReadonlyArray<{ messageId: string; entryId: string; expiresAt: number }>,
  now: number,
  retention: { claimMs: number; staleMs: number },
): Promise<Claim[]> {
  const scriptKeys = items.map((item) => keys.deliveryClaim(partition, item.messageId));
  const args: Array<string | number> = [now, retention.claimMs, retention.staleMs];
  for (const item of items) args.push(item.entryId, item.expiresAt);
  const flat = (await redis.script('reboundDeliverClaim', scriptKeys, args)) as Array<string | number>;
  return items.map((_, i) => ({ action: String(flat[2 * i]) as ClaimAction, attempt: Number(flat[2 * i + 1]) }));
}

export interface TakenRetry {
  messageId: string;
  data: Buffer;
  attempt: number;
}

/** Due members of a retry zset, leased to this process under `token`. */
export async function takeDueRetries(redis: RedisPort, keys: Keys, partition: number, channel: ChannelName, now: number, limit: number, leaseMs: number, token: string): Promise<TakenRetry[]> {
  const zset = keys.deliveryRetries(partition, channel);
  const due = await redis.zrangeDue(zset, now, limit);
  if (due.length === 0) return [];
  const ids = due.map((d) => d.member);
  const scriptKeys = [zset, ...ids.map((id) => keys.deliveryClaim(partition, id))];
  const flat = (await redis.scriptBuffer('reboundDeliverTake', scriptKeys, [now, leaseMs, token, ...ids])) as Array<Buffer | number>;
  const taken: TakenRetry[] = [];
  for (let i = 0; i + 2 < flat.length; i += 3) taken.push({ messageId: String(flat[i]), data: flat[i + 1] as Buffer, attempt: Number(flat[i + 2]) });
  return taken;
}

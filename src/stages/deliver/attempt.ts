// One message on its way through deliver: where it came from (an outbox entry or a taken retry),
// what its claim allows, and how its hand-off went.
import type { SendResult } from '../../model/channel.js';
import type { OutboxMessage } from '../../model/message.js';
import type { Claim } from './claims.js';

export interface Attempt {
  message: OutboxMessage;
  source: 's' | 'r';
  /** The outbox entry id (s) or the lease token (r). */
  ref: string;
  /** The message bytes to keep with a retry (outbox entries only; a taken retry keeps its own). */
  data: Buffer | undefined;
  claim: Claim;
}

/** none: not handed over (skip, expired); deferred: no channel slot in time; sent: the channel answered. */
export type HandOff = { kind: 'none' } | { kind: 'deferred' } | { kind: 'sent'; result: SendResult; at: number };

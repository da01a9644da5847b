// The one channel interface (SPEC §7): what the deliver stage hands a message to. Implementations
// live in src/channels (SMTP, SMPP, webhook, file outbox); the stage gets them by injection, so
// stages and channels never import each other.
import type { ChannelName, OutboxMessage } from './message.js';

/**
 * The outcome of one hand-off. `permanent: false` is a transient failure (retried with backoff
 * until the message's validity ends); `permanent: true` ends the message as deliveryFailed.
 * `reply` is the server's answer (SMTP reply line, SMPP status, HTTP status and body).
 */
export type SendResult =
  | { ok: true; remoteId?: string; reply?: string; remoteIds?: readonly string[] }
  | { ok: false; permanent: boolean; reply: string };

/** A delivery receipt from the gateway (SMPP deliver_sm): the gateway's id and its final state. */
export interface DeliveryReceipt {
  remoteId: string;
  /** DELIVRD, UNDELIV, EXPIRED, REJECTD, DELETED, ACCEPTD, UNKNOWN, ENROUTE. */
  state: string;
  /** The gateway's error code, when it gives one. */
  error?: string;
}

export interface Channel {
  /** What the channel is (`smtp`, `smpp`, `webhook`, `file`): logs and the /status page. */
  readonly name: string;
  /**
   * Hands one message over. Never throws for a delivery problem: every failure is a result.
   * A message sent twice carries the same Message-ID (email) or id (webhook, file name).
   */
  send(message: OutboxMessage): Promise<SendResult>;
  /** Receipts arrive here when the channel has them (SMPP). */
  onReceipt?(listener: (receipt: DeliveryReceipt) => void): void;
  /** Waits for sends in progress where it can, then closes connections. Idempotent. */
  close(): Promise<void>;
}

/** The channel of each message channel. */
export type Channels = Readonly<Record<ChannelName, Channel>>;

export const sent = (remoteId?: string, reply?: string): SendResult => ({
  ok: true,
  ...(remoteId === undefined ? {} : { remoteId }),
  ...(reply === undefined ? {} : { reply }),
});
export const transientFailure = (reply: string): SendResult => ({ ok: false, permanent: false, reply });
export const permanentFailure = (reply: string): SendResult => ({ ok: false, permanent: true, reply });

/**
 * The stable Message-ID of a message: `<id@domain of the From address>`; characters a Message-ID
 * cannot hold (and `=`) are written `=xxxx`, so two ids never share one Message-ID.
 */
export function messageIdHeader(messageId: string, from: string): string {
  const address = /<([^>]+)>/.exec(from)?.[1] ?? from;
  const domain = address.includes('@') ? address.slice(address.lastIndexOf('@') + 1).trim() : '';
  const safeId = messageId.replace(/[^A-Za-z0-9!#$%&'*+\-/?^_`{|}~.]/g, (ch) => `=${ch.charCodeAt(0).toString(16).padStart(4, '0')}`);
  return `<${safeId}@${/^[A-Za-z0-9.-]+$/.test(domain) ? domain : 'rebound.invalid'}>`;
}

// A message (SPEC §6.7, §7): what the campaign stage appends to a channel's outbox stream and the
// record that follows it from receipt to hand-off. Both live in the partition of the visitor, so
// the campaign stage and the deliver stage update the record in the same Lua call as their XACK.
//
// Keys (src/core/redis/keys.ts): outbox stream `out:<channel>` of the partition; record hash
// `keys.message(p, id)`; per event the partition's recent records `keys.eventMessages(p, eventId)`
// (zset, score = receivedAt); per trigger the outcome counters `keys.triggerStats(p, triggerId)`
// (hash, fields `<eventId>|<status>` and `<eventId>|<status>|<reason>`; eventId `-` when routing
// failed). Records and index entries expire after `campaign.recordRetention`.
//
// Who counts what: the campaign stage HINCRBYs `<eventId>|received` and the statuses it decides
// (ignored, routingFailed, targetingFailed, …); the deliver stage HINCRBYs the final statuses it
// decides — `processed`, `deliveryFailed` (with reason) and `tooOld` — as `<eventId>|<status>` and,
// with a reason, also `<eventId>|<status>|<reason>`, once per message, in the same Lua call as
// the record update. Deliver also sets `attempts`, `error` (last server reply), `handedAt`,
// `nextAttemptAt` while a retry waits, `remoteId` and, for SMPP, `receipt` (DELIVRD, UNDELIV, …).

export const messageStatuses = [
  'pending',
  'processing',
  'paused',
  'processed',
  'ignored',
  'deliveryFailed',
  'routingFailed',
  'tooOld',
  'targetingFailed',
] as const;
export type MessageStatus = (typeof messageStatuses)[number];

/** Statuses after which nothing more happens to a message. */
export const finalStatuses: ReadonlySet<MessageStatus> = new Set(['processed', 'ignored', 'deliveryFailed', 'routingFailed', 'tooOld', 'targetingFailed']);

export type ChannelName = 'email' | 'sms';
export const channelNames: readonly ChannelName[] = ['email', 'sms'];

/** The outbox stream of a channel (a logical stream name: `keys.stream(p, outboxStream('email'))`). */
export const outboxStream = (channel: ChannelName): string => `out:${channel}`;

/** One rendered message, as appended (msgpackr codec) to the outbox stream of its channel. */
export interface OutboxMessage {
  /** Stable per (trigger message, event): a redelivered trigger message yields the same id. */
  id: string;
  eventId: string;
  triggerId: string;
  channel: ChannelName;
  templateId: string;
  templateVersion: number;
  /** Email address or phone number (E.164 digits, `+` optional). */
  to: string;
  from?: string;
  replyTo?: string;
  subject?: string;
  html?: string;
  text?: string;
  /** Extra headers for email (`List-Unsubscribe`, `List-Unsubscribe-Post`). */
  headers?: Record<string, string>;
  sms?: { encoding: 'GSM-7' | 'UCS-2'; segments: number };
  profileId?: string;
  /** Epoch ms the trigger fired; `fire_to_send_seconds` is measured from it. */
  firedAt: number;
  /** Epoch ms after which the message must not be sent (firedAt + the event's validity): `tooOld`. */
  expiresAt: number;
  /** A proof (SPEC §6.6): sent to a test address, never counted toward fatigue. */
  proof?: boolean;
}

/** Timestamp fields of a record (epoch ms), one per hop. */
export const hopFields = ['firstHitAt', 'lastHitAt', 'firedAt', 'receivedAt', 'reconciledAt', 'renderedAt', 'handedAt'] as const;
export type HopField = (typeof hopFields)[number];

/** The record hash of a message as read back (every field a string in Redis). */
export interface MessageRecord {
  id: string;
  status: MessageStatus;
  reason?: string;
  eventId: string;
  triggerId: string;
  triggerName: string;
  channel?: ChannelName;
  visitorId: string;
  profileId?: string;
  to?: string;
  templateVersion?: number;
  attempts?: number;
  /** The last error or the server's reply (deliveryFailed, retries). */
  error?: string;
  /** The id the server or gateway gave the message (SMTP response id, SMSC message id, webhook id). */
  remoteId?: string;
  /** The SMS delivery receipt's state (DELIVRD, UNDELIV, …) and when it arrived. */
  receipt?: string;
  receiptAt?: number;
  /** When a transient failure is retried next. */
  nextAttemptAt?: number;
  timestamps: Partial<Record<HopField, number>>;
}

const numberOrUndefined = (text: string | undefined): number | undefined => (text === undefined || text === '' ? undefined : Number(text));

/** Reads a record hash (HGETALL result) into a MessageRecord; undefined when it is empty. */
export function parseMessageRecord(fields: Record<string, string>): MessageRecord | undefined {
  if (fields.status === undefined) return undefined;
  const timestamps: MessageRecord['timestamps'] = {};
  for (const field of hopFields) {
    const value = numberOrUndefined(fields[field]);
    if (value !== undefined) timestamps[field] = value;
  }
  const optional = <K extends string>(key: K, value: string | number | undefined) => (value === undefined || value === '' ? {} : { [key]: value });
  return {
    id: fields.id ?? '',
    status: fields.status as MessageStatus,
    ...optional('reason', fields.reason),
    eventId: fields.eventId ?? '',
    triggerId: fields.triggerId ?? '',
    triggerName: fields.triggerName ?? '',
    ...optional('channel', fields.channel),
    visitorId: fields.visitorId ?? '',
    ...optional('profileId', fields.profileId),
    ...optional('to', fields.to),
    ...optional('templateVersion', numberOrUndefined(fields.templateVersion)),
    ...optional('attempts', numberOrUndefined(fields.attempts)),
    ...optional('error', fields.error),
    ...optional('remoteId', fields.remoteId),
    ...optional('receipt', fields.receipt),
    ...optional('receiptAt', numberOrUndefined(fields.receiptAt)),
    ...optional('nextAttemptAt', numberOrUndefined(fields.nextAttemptAt)),
    timestamps,
  } as MessageRecord;
}

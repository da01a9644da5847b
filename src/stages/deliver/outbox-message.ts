// Checks that an outbox entry holds a message deliver can send: what the campaign stage writes
// (src/model/message.ts). Anything else fails its entry alone with OUTBOX_MESSAGE_INVALID, which
// the runtime dead-letters at once (retrying cannot help).
import { ReboundError } from '../../core/errors.js';
import type { ChannelName, OutboxMessage } from '../../model/message.js';

const text = (value: unknown): value is string => typeof value === 'string' && value !== '';
const time = (value: unknown): value is number => typeof value === 'number' && Number.isFinite(value);

export function checkOutboxMessage(value: unknown, channel: ChannelName): OutboxMessage {
  const m = (value ?? {}) as Partial<Record<keyof OutboxMessage, unknown>>;
  const missing = [
    text(m.id) ? '' : 'id',
    text(m.eventId) ? '' : 'eventId',
    text(m.triggerId) ? '' : 'triggerId',
    text(m.to) ? '' : 'to',
    time(m.firedAt) ? '' : 'firedAt',
    time(m.expiresAt) ? '' : 'expiresAt',
  ].filter(Boolean);
  if (typeof value !== 'object' || value === null || Array.isArray(value)) missing.unshift('(not a message object)');
  if (missing.length > 0) throw new ReboundError('OUTBOX_MESSAGE_INVALID', `outbox message without ${missing.join(', ')}`);
  if (m.channel !== channel) throw new ReboundError('OUTBOX_MESSAGE_INVALID', `a ${String(m.channel)} message in the ${channel} outbox`);
  return value as OutboxMessage;
}

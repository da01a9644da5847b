// What becomes of a message after its hand-off (SPEC §6.7, §7): sent → processed; refused for
// good → deliveryFailed (reason `rejected`, the server's reply in `error`); a transient failure →
// a retry after an exponential, jittered backoff, unless that retry would come after the
// message's validity → tooOld; validity over before any hand-off → tooOld, never sent.
// Also counts what a record call applied (each outcome is counted once, by its owner).
import { backoffDelay } from '../../core/retry.js';
import type { ChannelName } from '../../model/message.js';
import type { Attempt, HandOff } from './attempt.js';
import type { DeliverSettings } from './deliver-settings.js';
import { budgetExceeded, fireToSend, messages, retriesScheduled } from './deliver-metrics.js';
import type { RecordItem } from './record.js';

export const REJECTED = 'rejected';
const DEFERRED = 'not handed over: the channel stayed busy for the whole batch';

function base(attempt: Attempt): RecordItem {
  const { message, source, ref, claim } = attempt;
  return { source, ref, messageId: message.id, eventId: message.eventId, triggerId: message.triggerId, outcome: 'final', status: '', reason: '', error: '', attempts: claim.attempt, at: 0, data: undefined, remoteId: '' };
}

/** A retry at `now` + backoff, or tooOld when that is past the message's validity. */
function retryOrTooOld(item: RecordItem, attempt: Attempt, error: string, backoffAttempt: number, now: number, settings: DeliverSettings): RecordItem {
  const next = now + Math.max(1, backoffDelay(Math.max(1, backoffAttempt), settings.retry));
  if (next >= attempt.message.expiresAt) return { ...item, status: 'tooOld', error };
  return { ...item, outcome: 'retry', error, at: next, data: attempt.data };
}

export function decideOutcome(attempt: Attempt, handOff: HandOff, now: number, settings: DeliverSettings): RecordItem {
  const item = base(attempt);
  if (attempt.claim.action === 'skip') return { ...item, outcome: 'ack' };
  if (attempt.claim.action === 'expired') return { ...item, status: 'tooOld' };
  if (handOff.kind === 'deferred') return retryOrTooOld({ ...item, attempts: attempt.claim.attempt - 1 }, attempt, DEFERRED, 1, now, settings);
  if (handOff.kind !== 'sent') return { ...item, outcome: 'ack' };
  const { result, at } = handOff;
  if (result.ok) return { ...item, status: 'processed', at, remoteId: result.remoteId ?? '' };
  if (result.permanent) return { ...item, status: 'deliveryFailed', reason: REJECTED, error: result.reply };
  return retryOrTooOld(item, attempt, result.reply, attempt.claim.attempt, now, settings);
}

export function countOutcomes(channel: ChannelName, attempts: readonly Attempt[], items: readonly RecordItem[], applied: readonly boolean[], budgetMs: number): void {
  items.forEach((item, i) => {
    if (!applied[i]) return;
    if (item.outcome === 'retry') {
      retriesScheduled.labels(channel).inc();
      return;
    }
    messages.labels(item.eventId, channel, item.status, item.reason).inc();
    if (item.status !== 'processed') return;
    const firedAt = (attempts[i] as Attempt).message.firedAt;
    const seconds = Math.max(0, item.at - firedAt) / 1000;
    fireToSend.labels(item.eventId, channel).observe(seconds);
    // The series exists from an event's first send, so rate() sees its first late message too.
    budgetExceeded.labels(item.eventId).inc(item.at - firedAt > budgetMs ? 1 : 0);
  });
}

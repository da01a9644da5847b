// The metrics of the deliver stage (SPEC §9): sends per channel and result, fire → send latency
// against the budget, final statuses deliver decides, retries scheduled and waiting, receipts.
// Labels are event ids, channel names and statuses only: never an address or a body.
import { counter, gauge, histogram, latencyBuckets } from '../../core/metrics.js';

export const channelSends = counter('rebound_channel_sends_total', 'Hand-offs to a channel, by channel (email, sms) and result (ok, transient, permanent)', ['channel', 'result']);
export const fireToSend = histogram('rebound_fire_to_send_seconds', 'Trigger fired to message handed to its channel', ['event', 'channel'], latencyBuckets);
export const budgetExceeded = counter('rebound_budget_exceeded_total', 'Messages handed to their channel later than deliver.budget after the trigger fired', ['event']);
export { messagesTotal as messages } from '../../model/message-metrics.js';
export const retriesScheduled = counter('rebound_delivery_retries_total', 'Transient failures scheduled for a later attempt', ['channel']);
export const retriesWaiting = gauge('rebound_delivery_retries_waiting', 'Messages waiting for a retry in the partitions this process serves', ['channel']);
export const resends = counter('rebound_delivery_resends_total', 'Messages sent again because a process died (or stalled) between hand-off and record', ['channel']);
export const receipts = counter('rebound_sms_receipts_total', 'SMS delivery receipts, by state and whether their message was found', ['state', 'result']);

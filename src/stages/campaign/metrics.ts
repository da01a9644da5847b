// Campaign metrics (SPEC §9). `messages_total` counts the statuses the campaign stage decides;
// the deliver stage counts the ones it decides under the same name.
import { counter } from '../../core/metrics.js';

export function campaignMetrics() {
  return {
    messages: counter('rebound_messages_total', 'Messages by event, channel and final status (reason where one applies)', ['event', 'channel', 'status', 'reason']),
  };
}

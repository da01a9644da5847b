// `rebound_messages_total` (SPEC §9): one definition for the campaign stage, which counts the
// final statuses it decides, and the deliver stage, which counts the ones it decides.
import { counter } from '../core/metrics.js';

export const messagesTotal = counter('rebound_messages_total', 'Messages by event, channel and final status (reason where one applies)', ['event', 'channel', 'status', 'reason']);

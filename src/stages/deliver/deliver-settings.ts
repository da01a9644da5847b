// The deliver stage's settings, taken once from the configuration. `startWithinMs` bounds how
// long a batch waits for channel slots: a batch must be recorded well before its entries are
// idle for `stages.claimIdle`, or another process would claim them and resend what is in flight.
import type { ReboundConfig } from '../../core/config-schema.js';
import type { BackoffOptions } from '../../core/retry.js';
import type { ChannelName } from '../../model/message.js';

export interface DeliverSettings {
  /** The consumer group of the outbox streams. */
  group: string;
  budgetMs: number;
  sendTimeoutMs: number;
  /** How long a message of a batch may wait for a channel slot before it is deferred. */
  startWithinMs: number;
  concurrency: Readonly<Record<ChannelName, number>>;
  retry: BackoffOptions;
  retryEveryMs: number;
  retryBatch: number;
  retryLeaseMs: number;
  claimRetentionMs: number;
  recordRetentionMs: number;
  receiptRetentionMs: number;
}

export const deliverGroup = 'deliver';

export function deliverSettings(config: Readonly<ReboundConfig>): DeliverSettings {
  const { deliver, stages, campaign } = config;
  return {
    group: deliverGroup,
    budgetMs: deliver.budget,
    sendTimeoutMs: deliver.sendTimeout,
    startWithinMs: Math.max(stages.claimIdle - 2 * deliver.sendTimeout, deliver.sendTimeout),
    concurrency: { email: deliver.concurrency.email, sms: deliver.concurrency.sms },
    retry: { baseMs: deliver.retry.base, capMs: deliver.retry.max },
    retryEveryMs: deliver.retryEvery,
    retryBatch: deliver.retryBatch,
    retryLeaseMs: deliver.retryLease,
    claimRetentionMs: deliver.claimRetention,
    recordRetentionMs: campaign.recordRetention,
    receiptRetentionMs: deliver.smpp.receiptRetention,
  };
}

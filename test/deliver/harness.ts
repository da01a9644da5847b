// Test harness of the deliver role: a runtime bootstrapped as `rebound start --roles deliver`
// does (own key prefix), channels from the configuration or injected, outbox entries appended
// the way the campaign stage appends them (XADD field `d` = encode(message), with the record
// hash in status processing), and the record and counters read back.
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createChannels } from '../../src/channels/create-channels.js';
import { bootstrap, type Runtime } from '../../src/core/bootstrap.js';
import { encode } from '../../src/core/codec.js';
import type { ReboundConfigInput } from '../../src/core/config-schema.js';
import { parseConfig } from '../../src/core/config.js';
import { metricsRegistry } from '../../src/core/metrics.js';
import type { RedisPort } from '../../src/core/redis/client.js';
import type { Keys } from '../../src/core/redis/keys.js';
import { createLogger } from '../../src/core/log.js';
import type { Channels } from '../../src/model/channel.js';
import { outboxStream, type OutboxMessage } from '../../src/model/message.js';
import { startDeliver } from '../../src/stages/deliver/role.js';
import { waitFor } from '../support/processes.js';

export type RedisTarget = { url: string } | { cluster: string[] };

export interface HarnessOptions {
  redis: RedisTarget;
  deliver?: ReboundConfigInput['deliver'];
  stages?: ReboundConfigInput['stages'];
  channels?: (runtime: Runtime) => Channels;
  prefix?: string;
}

export interface DeliverHarness {
  runtime: Runtime;
  dataDir: string;
  append(message: OutboxMessage): Promise<void>;
  /** Appends an arbitrary value to an outbox stream (for invalid entries). */
  appendRaw(channel: 'email' | 'sms', value: unknown, partition?: number): Promise<void>;
  record(messageId: string): Promise<Record<string, string>>;
  waitForStatus(messageId: string, statuses: readonly string[], timeoutMs?: number): Promise<Record<string, string>>;
  stats(triggerId: string): Promise<Record<string, string>>;
  retriesWaiting(channel: 'email' | 'sms'): Promise<number>;
  close(): Promise<void>;
}

/** Appends a message to its outbox as the campaign stage does: the record (processing), then the entry. */
export async function appendMessage(redis: RedisPort, keys: Keys, message: OutboxMessage): Promise<void> {
  const p = keys.partitionOf(message.id);
  const record = keys.message(p, message.id);
  for (const [field, value] of Object.entries({ id: message.id, status: 'processing', eventId: message.eventId, triggerId: message.triggerId, channel: message.channel, firedAt: String(message.firedAt) })) {
    await redis.hset(record, field, value);
  }
  await redis.xadd(keys.stream(p, outboxStream(message.channel)), encode(message));
}

export const newPrefix = (): string => `t${randomBytes(4).toString('hex')}`;
export const PARTITIONS = 4;

/** Test-speed defaults: short retries, quick recovery; any key can be overridden. */
export function testConfig(options: HarnessOptions, prefix: string, dataDir: string) {
  return parseConfig({
    prefix,
    dataDir,
    partitions: PARTITIONS,
    redis: options.redis,
    stages: { claimIdle: '2s', recoverEvery: '250ms', idlePoll: '10ms', ...options.stages },
    deliver: { retry: { base: '100ms', max: '400ms' }, retryEvery: '50ms', sendTimeout: '2s', ...options.deliver },
    shutdownTimeout: '10s',
  });
}

export async function startDeliverHarness(options: HarnessOptions): Promise<DeliverHarness> {
  const prefix = options.prefix ?? newPrefix();
  const dataDir = mkdtempSync(join(tmpdir(), 'rebound-deliver-'));
  const config = testConfig(options, prefix, dataDir);
  const logger = createLogger(process.env.TEST_LOG_LEVEL ?? 'silent');
  const runtime = await bootstrap(config, logger);
  const channels = options.channels?.(runtime) ?? createChannels(config.deliver, dataDir, logger);
  await startDeliver(runtime, channels);
  const { redis, keys } = runtime;
  const harness: DeliverHarness = {
    runtime,
    dataDir,
    append: (message) => appendMessage(redis, keys, message),
    async appendRaw(channel, value, partition = 0) {
      await redis.xadd(keys.stream(partition, outboxStream(channel)), encode(value));
    },
    record: (messageId) => redis.hgetall(keys.message(keys.partitionOf(messageId), messageId)),
    async waitForStatus(messageId, statuses, timeoutMs = 30_000) {
      let last: Record<string, string> = {};
      await waitFor(
        `message ${messageId} to be ${statuses.join(' or ')}`,
        async () => {
          last = await harness.record(messageId);
          return statuses.includes(last.status ?? '');
        },
        timeoutMs,
        20,
      );
      return last;
    },
    async stats(triggerId) {
      const merged: Record<string, string> = {};
      for (const p of keys.allPartitions()) {
        for (const [field, value] of Object.entries(await redis.hgetall(keys.triggerStats(p, triggerId)))) merged[field] = String(Number(merged[field] ?? 0) + Number(value));
      }
      return merged;
    },
    async retriesWaiting(channel) {
      let total = 0;
      for (const p of keys.allPartitions()) total += await redis.zcard(keys.deliveryRetries(p, channel));
      return total;
    },
    async close() {
      const errors = await runtime.lifecycle.shutdown(10_000);
      if (errors.length > 0) throw new Error(`shutdown: ${errors.map((e) => e.message).join('; ')}`);
    },
  };
  return harness;
}

let sequence = 0;

/** A rendered email as the campaign stage writes it; `overrides` change any field. */
export function emailMessage(overrides: Partial<OutboxMessage> = {}): OutboxMessage {
  const now = Date.now();
  sequence++;
  return {
    id: `m${sequence}-${randomBytes(4).toString('hex')}`,
    eventId: 'EVTcartAbandonment',
    triggerId: 'trg-cart',
    channel: 'email',
    templateId: 'cart-abandonment-email',
    templateVersion: 1,
    to: 'amelie@example.com',
    from: 'Shop <shop@example.com>',
    replyTo: 'support@example.com',
    subject: 'Amélie, your cart is waiting',
    html: '<p>Your <b>trail shoes</b> are waiting.</p>',
    text: 'Your trail shoes are waiting.',
    headers: { 'List-Unsubscribe': '<https://shop.example.com/u/abc>', 'List-Unsubscribe-Post': 'List-Unsubscribe=One-Click' },
    profileId: 'u-amelie',
    firedAt: now,
    expiresAt: now + 3_600_000,
    ...overrides,
  };
}

/** A rendered SMS as the campaign stage writes it. */
export function smsMessage(text: string, overrides: Partial<OutboxMessage> = {}): OutboxMessage {
  const { from: _from, replyTo: _replyTo, subject: _subject, html: _html, headers: _headers, ...email } = emailMessage();
  return { ...email, channel: 'sms', to: '+33612345678', text, ...overrides };
}

/** Sum of a metric's values with these labels; `suffix` picks a histogram's `_count` or `_sum`. */
export async function metric(name: string, labels: Record<string, string>, suffix = ''): Promise<number> {
  const values = (await metricsRegistry.getSingleMetric(name)?.get())?.values ?? [];
  return values
    .filter((v) => (suffix === '' || (v as { metricName?: string }).metricName === `${name}${suffix}`) && Object.entries(labels).every(([k, value]) => String(v.labels[k]) === value))
    .reduce((sum, v) => sum + v.value, 0);
}

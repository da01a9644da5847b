// Effectively once across a crash (SPEC §7, §10): a deliver process killed with SIGKILL while
// 1,000 emails are in flight; a second process takes over its pending entries. Every message
// reaches the SMTP server at least once, and a message received twice carries the same
// Message-ID both times; those can only be messages that were claimed and not yet recorded
// when the process died, so there are at most batchSize x maxInFlight of them.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { connectRedis, type RedisPort } from '../../src/core/redis/client.js';
import { Keys } from '../../src/core/redis/keys.js';
import { startChild, waitFor, type Child } from '../support/processes.js';
import { appendMessage, emailMessage, newPrefix, PARTITIONS } from './harness.js';
import { startSmtpTestServer, type SmtpTestServer } from './smtp-test-server.js';

const redisUrl = inject('redisUrl');
const TOTAL = 1000;
const BATCH = 25;
const MAX_IN_FLIGHT = 4;
const IN_FLIGHT_BOUND = BATCH * MAX_IN_FLIGHT;

let smtp: SmtpTestServer | undefined;
let redis: RedisPort | undefined;
const children: Child[] = [];
afterAll(async () => {
  await Promise.all(children.map((child) => child.kill9()));
  await smtp?.stop();
  await redis?.close();
});

describe('deliver killed with SIGKILL mid-flight', () => {
  it('sends every message, twice only inside the in-flight bound and then with the same Message-ID', async () => {
    smtp = await startSmtpTestServer({ acceptDelayMs: 4 });
    redis = await connectRedis({ url: redisUrl }, { connectTimeoutMs: 10_000, name: 'test' });
    const keys = new Keys(newPrefix(), PARTITIONS);
    const messages = Array.from({ length: TOTAL }, () => emailMessage());
    for (const message of messages) await appendMessage(redis, keys, message);
    const env = {
      TEST_PREFIX: keys.prefix,
      TEST_PARTITIONS: String(PARTITIONS),
      TEST_REDIS_URL: redisUrl,
      TEST_SMTP_URL: smtp.url,
      TEST_BATCH: String(BATCH),
      TEST_MAX_IN_FLIGHT: String(MAX_IN_FLIGHT),
      TEST_DATA_DIR: mkdtempSync(join(tmpdir(), 'rebound-crash-')),
    };
    const first = await startChild('test/deliver/deliver-worker.ts', env);
    children.push(first);
    await waitFor('300 emails received', () => smtp!.received.length >= 300, 60_000, 5);
    await first.kill9();
    const receivedAtKill = smtp.received.length;
    expect(receivedAtKill).toBeLessThan(TOTAL);

    const second = await startChild('test/deliver/deliver-worker.ts', env);
    children.push(second);
    const statusOf = async (id: string): Promise<string | null> => redis!.hget(keys.message(keys.partitionOf(id), id), 'status');
    await waitFor(
      'every message processed',
      async () => {
        for (const message of messages) if ((await statusOf(message.id)) !== 'processed') return false;
        return true;
      },
      120_000,
      200,
    );

    const counts = smtp.counts();
    const expected = new Set(messages.map((m) => `<${m.id}@example.com>`));
    expect([...counts.keys()].filter((id) => !expected.has(id))).toEqual([]);
    const perMessage = messages.map((m) => counts.get(`<${m.id}@example.com>`) ?? 0);
    expect(perMessage.filter((n) => n === 0)).toHaveLength(0);
    expect(perMessage.filter((n) => n > 2)).toHaveLength(0);
    const twice = perMessage.filter((n) => n === 2).length;
    expect(twice).toBeLessThanOrEqual(IN_FLIGHT_BOUND);
    expect(smtp.received.length).toBe(TOTAL + twice);
    console.log(`kill -9 after ${receivedAtKill} emails: ${twice} received twice (bound ${IN_FLIGHT_BOUND})`);
  }, 180_000);
});

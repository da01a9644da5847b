// Email delivery when the SMTP side fails: a server down for 5 s (messages wait, retried, and go
// out once it is back), a primary down with a fallback (fallback used, then the primary again
// after it recovers), and a validity that ends during an outage (tooOld, never sent after).
import { afterEach, describe, expect, inject, it } from 'vitest';
import { freePort } from '../support/redis-server.js';
import { waitFor } from '../support/processes.js';
import { emailMessage, metric, startDeliverHarness, type DeliverHarness } from './harness.js';
import { startSmtpTestServer, type SmtpTestServer } from './smtp-test-server.js';

const redisUrl = inject('redisUrl');
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

let harness: DeliverHarness | undefined;
let servers: SmtpTestServer[] = [];
afterEach(async () => {
  await harness?.close();
  harness = undefined;
  await Promise.all(servers.map((s) => s.stop()));
  servers = [];
});

async function server(port?: number): Promise<SmtpTestServer> {
  const smtp = await startSmtpTestServer(port === undefined ? {} : { port });
  servers.push(smtp);
  return smtp;
}

describe('email when the SMTP server fails', () => {
  it('keeps messages while the server is down for 5 s and sends each once when it is back', async () => {
    const smtp = await server();
    harness = await startDeliverHarness({ redis: { url: redisUrl }, deliver: { smtp: { url: smtp.url }, retry: { base: '200ms', max: '1s' } } });
    const warmUp = emailMessage();
    await harness.append(warmUp);
    await harness.waitForStatus(warmUp.id, ['processed']);
    await smtp.stop();
    const downSince = Date.now();
    const messages = Array.from({ length: 10 }, () => emailMessage());
    for (const message of messages) await harness.append(message);
    await waitFor('every message to have failed once', async () => (await harness!.retriesWaiting('email')) === messages.length);
    for (const message of messages) {
      const record = await harness.record(message.id);
      expect(record.status).toBe('processing');
      expect(Number(record.attempts)).toBeGreaterThanOrEqual(1);
      expect(record.error).toMatch(/ECONNECTION|ESOCKET|ECONNREFUSED/);
    }
    await sleep(Math.max(0, 5000 - (Date.now() - downSince)));
    await smtp.start();
    for (const message of messages) await harness.waitForStatus(message.id, ['processed']);
    const counts = smtp.counts();
    expect(messages.map((m) => counts.get(`<${m.id}@example.com>`))).toEqual(messages.map(() => 1));
    expect(await harness.retriesWaiting('email')).toBe(0);
  });

  it('uses the fallback while the primary is down, then the primary again once it is back', async () => {
    const primaryPort = await freePort();
    const fallback = await server();
    harness = await startDeliverHarness({
      redis: { url: redisUrl },
      deliver: { smtp: { url: `smtp://127.0.0.1:${primaryPort}`, fallbackUrl: fallback.url, breaker: { failures: 2, coolDown: '300ms' } } },
    });
    const whileDown = Array.from({ length: 6 }, () => emailMessage());
    for (const message of whileDown) await harness.append(message);
    for (const message of whileDown) expect(await harness.waitForStatus(message.id, ['processed'])).toMatchObject({ attempts: '1' });
    expect(fallback.received).toHaveLength(6);
    expect(await metric('rebound_smtp_breaker_open', {})).toBe(1);

    const primary = await server(primaryPort);
    const afterRecovery: string[] = [];
    await waitFor(
      'a message through the primary again',
      async () => {
        const message = emailMessage();
        afterRecovery.push(message.id);
        await harness!.append(message);
        await harness!.waitForStatus(message.id, ['processed']);
        return primary.received.length > 0;
      },
      30_000,
      100,
    );
    expect(await metric('rebound_smtp_breaker_open', {})).toBe(0);
    const counts = new Map([...fallback.counts()]);
    for (const [id, n] of primary.counts()) counts.set(id, (counts.get(id) ?? 0) + n);
    for (const id of [...whileDown.map((m) => m.id), ...afterRecovery]) expect(counts.get(`<${id}@example.com>`)).toBe(1);
  });

  it('marks a message tooOld when its validity ends during the outage, and never sends it afterwards', async () => {
    const port = await freePort();
    harness = await startDeliverHarness({ redis: { url: redisUrl }, deliver: { smtp: { url: `smtp://127.0.0.1:${port}` }, retry: { base: '100ms', max: '200ms' } } });
    const doomed = emailMessage({ expiresAt: Date.now() + 1500 });
    await harness.append(doomed);
    const record = await harness.waitForStatus(doomed.id, ['tooOld']);
    expect(Number(record.attempts)).toBeGreaterThanOrEqual(1);
    expect(record.error).toMatch(/ECONNECTION|ESOCKET|ECONNREFUSED/);
    expect(await harness.retriesWaiting('email')).toBe(0);
    expect(await harness.stats('trg-cart')).toEqual({ 'EVTcartAbandonment|tooOld': '1' });

    const smtp = await server(port);
    const sentinel = emailMessage();
    await harness.append(sentinel);
    await harness.waitForStatus(sentinel.id, ['processed']);
    expect(smtp.received.map((m) => m.messageId)).toEqual([`<${sentinel.id}@example.com>`]);
    expect((await harness.record(doomed.id)).status).toBe('tooOld');
  });
});

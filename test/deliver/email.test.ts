// Email delivery through a real SMTP server (smtp-server, parsed with mailparser): what arrives,
// pooled connections, STARTTLS + AUTH, 4xx retried, 5xx final, duplicates sent once, bad outbox
// entries dead-lettered; on a standalone Redis and on Redis Cluster.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generate } from 'selfsigned';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { waitFor } from '../support/processes.js';
import { emailMessage, metric, startDeliverHarness, type DeliverHarness, type HarnessOptions } from './harness.js';
import { startSmtpTestServer, type SmtpTestServer } from './smtp-test-server.js';

const redisUrl = inject('redisUrl');

let harness: DeliverHarness | undefined;
let servers: SmtpTestServer[] = [];
afterEach(async () => {
  await harness?.close();
  harness = undefined;
  await Promise.all(servers.map((s) => s.stop()));
  servers = [];
});

async function setUp(server: Parameters<typeof startSmtpTestServer>[0], deliver: HarnessOptions['deliver'] = {}, redis: HarnessOptions['redis'] = { url: redisUrl }): Promise<SmtpTestServer> {
  const smtp = await startSmtpTestServer(server);
  servers.push(smtp);
  harness = await startDeliverHarness({ redis, deliver: { ...deliver, smtp: { url: smtp.url, ...deliver.smtp } } });
  return smtp;
}

describe('email over SMTP', () => {
  it('arrives with From, To, Subject, HTML and text, a stable Message-ID and the List-Unsubscribe headers; the record says processed', async () => {
    const smtp = await setUp({});
    const sendsBefore = await metric('rebound_channel_sends_total', { channel: 'email', result: 'ok' });
    const latencyBefore = await metric('rebound_fire_to_send_seconds', { event: 'EVTcartAbandonment', channel: 'email' }, '_count');
    const message = emailMessage();
    await harness!.append(message);
    const record = await harness!.waitForStatus(message.id, ['processed']);
    expect(record.attempts).toBe('1');
    expect(Number(record.handedAt)).toBeGreaterThanOrEqual(message.firedAt);
    expect(record.remoteId).toBe(`<${message.id}@example.com>`);
    expect(smtp.received).toHaveLength(1);
    const mail = await smtp.received[0]!.parse();
    expect(mail.from?.value[0]).toMatchObject({ address: 'shop@example.com', name: 'Shop' });
    expect(mail.to && !Array.isArray(mail.to) ? mail.to.value[0]?.address : undefined).toBe('amelie@example.com');
    expect(mail.replyTo?.value[0]?.address).toBe('support@example.com');
    expect(mail.subject).toBe('Amélie, your cart is waiting');
    expect(mail.html).toContain('<b>trail shoes</b>');
    expect(mail.text?.trim()).toBe('Your trail shoes are waiting.');
    expect(mail.messageId).toBe(`<${message.id}@example.com>`);
    const header = (name: string): string | undefined => mail.headerLines.find((line) => line.key === name)?.line;
    expect(header('list-unsubscribe')).toBe('List-Unsubscribe: <https://shop.example.com/u/abc>');
    expect(header('list-unsubscribe-post')).toBe('List-Unsubscribe-Post: List-Unsubscribe=One-Click');
    expect(await harness!.stats('trg-cart')).toEqual({ 'EVTcartAbandonment|processed': '1' });
    expect(await metric('rebound_channel_sends_total', { channel: 'email', result: 'ok' })).toBe(sendsBefore + 1);
    expect(await metric('rebound_fire_to_send_seconds', { event: 'EVTcartAbandonment', channel: 'email' }, '_count')).toBe(latencyBefore + 1);
  });

  it('counts a message handed over later than deliver.budget after its trigger fired', async () => {
    await setUp({});
    const labels = { event: 'EVTlate' };
    const exceededBefore = await metric('rebound_budget_exceeded_total', labels);
    const sumBefore = await metric('rebound_fire_to_send_seconds', { ...labels, channel: 'email' }, '_sum');
    const late = emailMessage({ eventId: 'EVTlate', firedAt: Date.now() - 20 * 60_000 });
    await harness!.append(late);
    await harness!.waitForStatus(late.id, ['processed']);
    expect(await metric('rebound_budget_exceeded_total', labels)).toBe(exceededBefore + 1);
    expect((await metric('rebound_fire_to_send_seconds', { ...labels, channel: 'email' }, '_sum')) - sumBefore).toBeGreaterThanOrEqual(1200);
    expect(await metric('rebound_messages_total', { ...labels, channel: 'email', status: 'processed', reason: '' })).toBe(1);
  });

  it('reuses its pooled connections', async () => {
    const smtp = await setUp({}, { smtp: { pool: { maxConnections: 2 } } });
    const messages = Array.from({ length: 40 }, () => emailMessage());
    for (const message of messages) await harness!.append(message);
    await waitFor('40 emails', () => smtp.received.length >= 40);
    for (const message of messages) await harness!.waitForStatus(message.id, ['processed']);
    expect(smtp.connections).toBeGreaterThanOrEqual(1);
    expect(smtp.connections).toBeLessThanOrEqual(2);
  });

  it('authenticates after STARTTLS with a server certificate it trusts through deliver.smtp.ca', async () => {
    const pems = await generate([{ name: 'commonName', value: 'localhost' }], { keyType: 'ec' });
    const ca = join(mkdtempSync(join(tmpdir(), 'rebound-ca-')), 'ca.pem');
    writeFileSync(ca, pems.cert);
    const smtp = await setUp({ auth: { user: 'rebound', pass: 's3cret' }, tls: { key: pems.private, cert: pems.cert } }, { smtp: { ca } });
    const message = emailMessage();
    await harness!.append(message);
    await harness!.waitForStatus(message.id, ['processed']);
    expect(smtp.received).toHaveLength(1);
    expect(smtp.received[0]).toMatchObject({ secure: true, user: 'rebound' });
  });

  it('answered 451 then 250: delivered after a retry', async () => {
    let refusals = 1;
    const smtp = await setUp({ onRcpt: () => (refusals-- > 0 ? { code: 451, text: '4.7.1 Greylisted, try again later' } : undefined) });
    const message = emailMessage();
    await harness!.append(message);
    const record = await harness!.waitForStatus(message.id, ['processed']);
    expect(record.attempts).toBe('2');
    expect(record.error).toContain('451');
    expect(smtp.received.map((m) => m.messageId)).toEqual([`<${message.id}@example.com>`]);
    expect(await harness!.retriesWaiting('email')).toBe(0);
  });

  it('answered 550: deliveryFailed with the reply, never retried', async () => {
    const smtp = await setUp({ onRcpt: (to) => (to === 'gone@example.com' ? { code: 550, text: '5.1.1 Mailbox does not exist' } : undefined) });
    const failed = emailMessage({ to: 'gone@example.com' });
    await harness!.append(failed);
    const record = await harness!.waitForStatus(failed.id, ['deliveryFailed']);
    expect(record).toMatchObject({ reason: 'rejected', attempts: '1' });
    expect(record.error).toMatch(/^550 .*Mailbox does not exist/);
    // A later message goes through: by then a retry of the first would have been due long ago.
    const later = emailMessage();
    await harness!.append(later);
    await harness!.waitForStatus(later.id, ['processed']);
    expect(smtp.rcpts.filter((to) => to === 'gone@example.com')).toHaveLength(1);
    expect(smtp.received.map((m) => m.messageId)).toEqual([`<${later.id}@example.com>`]);
    expect(await harness!.retriesWaiting('email')).toBe(0);
    expect(await harness!.stats('trg-cart')).toMatchObject({ 'EVTcartAbandonment|deliveryFailed': '1', 'EVTcartAbandonment|deliveryFailed|rejected': '1', 'EVTcartAbandonment|processed': '1' });
  });

  it('sends a message appended twice to the outbox once', async () => {
    const smtp = await setUp({});
    const message = emailMessage();
    await harness!.append(message);
    await harness!.append(message);
    const sentinel = emailMessage();
    await harness!.append(sentinel);
    await harness!.waitForStatus(message.id, ['processed']);
    await harness!.waitForStatus(sentinel.id, ['processed']);
    await waitFor('both outbox entries acknowledged', async () => {
      const { redis, keys } = harness!.runtime;
      const groups = await Promise.all(keys.allPartitions().map((p) => redis.xinfoGroups(keys.stream(p, 'out:email'))));
      return groups.flat().every((g) => g.pending === 0 && (g.lag ?? 0) === 0);
    });
    expect(smtp.counts().get(`<${message.id}@example.com>`)).toBe(1);
    expect(await harness!.stats('trg-cart')).toEqual({ 'EVTcartAbandonment|processed': '2' });
  });

  it('dead-letters an outbox entry that is not a message, and sends nothing for it', async () => {
    const smtp = await setUp({});
    await harness!.appendRaw('email', { id: 'no-recipient', channel: 'email', eventId: 'E', triggerId: 'T', firedAt: 1, expiresAt: Date.now() + 60_000 }, 1);
    const { redis, keys } = harness!.runtime;
    let dead: Awaited<ReturnType<typeof redis.xrangeRecords>> = [];
    await waitFor('a dead letter', async () => (dead = await redis.xrangeRecords(keys.deadLetters(1, 'out:email'))).length === 1);
    expect(dead[0]!.fields.error).toMatch(/^OUTBOX_MESSAGE_INVALID: .*\bto\b/);
    expect(smtp.received).toHaveLength(0);
  });

  it('resends (same Message-ID) a message whose claim a dead process left behind, and skips one another entry is sending', async () => {
    const smtp = await setUp({}, { retryLease: '4s' });
    const { redis, keys } = harness!.runtime;
    const claim = async (id: string, at: number): Promise<void> => {
      const key = keys.deliveryClaim(keys.partitionOf(id), id);
      for (const [field, value] of Object.entries({ s: 'sending', e: '1-1', n: '1', at: String(at) })) await redis.hset(key, field, value);
    };
    const abandoned = emailMessage();
    const inFlightElsewhere = emailMessage();
    await claim(abandoned.id, Date.now() - 60_000);
    await claim(inFlightElsewhere.id, Date.now());
    const resendsBefore = await metric('rebound_delivery_resends_total', { channel: 'email' });
    await harness!.append(abandoned);
    await harness!.append(inFlightElsewhere);
    const record = await harness!.waitForStatus(abandoned.id, ['processed']);
    expect(record.attempts).toBe('2');
    expect(await metric('rebound_delivery_resends_total', { channel: 'email' })).toBe(resendsBefore + 1);
    await waitFor('both entries acknowledged', async () => {
      const groups = await Promise.all(keys.allPartitions().map((p) => redis.xinfoGroups(keys.stream(p, 'out:email'))));
      return groups.flat().every((g) => g.pending === 0 && (g.lag ?? 0) === 0);
    });
    expect(smtp.received.map((m) => m.messageId)).toEqual([`<${abandoned.id}@example.com>`]);
    expect((await harness!.record(inFlightElsewhere.id)).status).toBe('processing');
  });

  it('works the same on Redis Cluster', async () => {
    const smtp = await setUp({}, {}, { cluster: inject('redisClusterSeeds').split(',') });
    const messages = Array.from({ length: 12 }, () => emailMessage());
    for (const message of messages) await harness!.append(message);
    for (const message of messages) await harness!.waitForStatus(message.id, ['processed']);
    expect([...smtp.counts().values()]).toEqual(messages.map(() => 1));
  });
});

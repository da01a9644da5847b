// SMS delivery: over SMPP 3.4 to the `smpp` package's server (GSM-7, UCS-2, a long message as
// concatenated parts, a delivery receipt on the record, throttling retried, a bad number
// refused, a dropped bind reconnecting), and over an HTTP webhook (signature verifiable by the
// receiver, 429 retried, 400 permanent).
import { createHmac } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Pdu } from 'smpp';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { waitFor } from '../support/processes.js';
import { metric, smsMessage, startDeliverHarness, type DeliverHarness } from './harness.js';
import { startSmppTestServer, type SmppTestServer } from './smpp-test-server.js';

const redisUrl = inject('redisUrl');

let harness: DeliverHarness | undefined;
let cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  await harness?.close();
  harness = undefined;
  await Promise.all(cleanups.map((cleanup) => cleanup()));
  cleanups = [];
});

/** The text the server decoded from one submit_sm, and its UDH (concatenation) if any. */
function partOf(pdu: Pdu): { text: string; udh: Buffer | undefined } {
  const sm = pdu.short_message as { message: string; udh?: Buffer[] };
  return { text: sm.message, udh: sm.udh?.[0] };
}

describe('SMS over SMPP', () => {
  let smsc: SmppTestServer;
  async function setUp(options: Parameters<typeof startSmppTestServer>[0] = {}): Promise<void> {
    smsc = await startSmppTestServer(options);
    cleanups.push(() => smsc.stop());
    harness = await startDeliverHarness({ redis: { url: redisUrl }, deliver: { smpp: { url: smsc.url, reconnect: { base: '100ms', max: '300ms' }, enquireLink: '1s' } } });
  }

  it('submits a GSM-7 message in one part, extension characters included', async () => {
    await setUp();
    const text = 'Hello Amélie! Your cart {2 items} is waiting: 89€ [10% off] ~ see you';
    const message = smsMessage(text);
    await harness!.append(message);
    const record = await harness!.waitForStatus(message.id, ['processed']);
    expect(record.remoteId).toBe('smsc-1');
    expect(smsc.submits).toHaveLength(1);
    const pdu = smsc.submits[0]!;
    expect(pdu).toMatchObject({ data_coding: 0, destination_addr: '33612345678', source_addr: 'Rebound', registered_delivery: 1 });
    expect(partOf(pdu)).toEqual({ text, udh: undefined });
  });

  it('submits a UCS-2 message when a character is outside the GSM alphabet', async () => {
    await setUp();
    const text = 'Привет! Ваша корзина ждёт 🛒';
    const message = smsMessage(text);
    await harness!.append(message);
    await harness!.waitForStatus(message.id, ['processed']);
    expect(smsc.submits[0]).toMatchObject({ data_coding: 8 });
    expect(partOf(smsc.submits[0]!).text).toBe(text);
  });

  it('sends a 400-character message as three concatenated parts with one reference', async () => {
    await setUp();
    const text = 'Your trail shoes are still in your cart. '.repeat(10).slice(0, 400);
    const message = smsMessage(text);
    await harness!.append(message);
    const record = await harness!.waitForStatus(message.id, ['processed']);
    expect(smsc.submits).toHaveLength(3);
    const parts = smsc.submits.map(partOf);
    const reference = parts[0]!.udh![2];
    parts.forEach((part, i) => {
      expect(Number(smsc.submits[i]!.esm_class) & 0x40).toBe(0x40);
      expect([...part.udh!]).toEqual([0x00, 0x03, reference, 3, i + 1]);
    });
    expect(parts.map((p) => p.text.length)).toEqual([153, 153, 94]);
    expect(parts.map((p) => p.text).join('')).toBe(text);
    expect(record.remoteId).toBe('smsc-1');
  });

  it('records the delivery receipt on the message', async () => {
    await setUp();
    const message = smsMessage('Your cart is waiting');
    await harness!.append(message);
    const record = await harness!.waitForStatus(message.id, ['processed']);
    await smsc.sendReceipt(record.remoteId!, 'DELIVRD');
    await waitFor('the receipt on the record', async () => (await harness!.record(message.id)).receipt === 'DELIVRD');
    expect(Number((await harness!.record(message.id)).receiptAt)).toBeGreaterThan(0);
    expect(await metric('rebound_sms_receipts_total', { state: 'DELIVRD', result: 'recorded' })).toBeGreaterThanOrEqual(1);
  });

  it('retries a throttled submit and fails a refused number for good', async () => {
    let throttle = 1;
    await setUp({ onSubmit: (pdu) => (pdu.destination_addr === '33600000000' ? 0x0b : throttle-- > 0 ? 0x58 : 0) });
    const throttled = smsMessage('Your cart is waiting');
    const refused = smsMessage('Your cart is waiting', { to: '+33600000000' });
    await harness!.append(throttled);
    expect(await harness!.waitForStatus(throttled.id, ['processed'])).toMatchObject({ attempts: '2' });
    await harness!.append(refused);
    const record = await harness!.waitForStatus(refused.id, ['deliveryFailed']);
    expect(record).toMatchObject({ reason: 'rejected', attempts: '1' });
    expect(record.error).toContain('0x0000000b');
  });

  it('binds again after the SMSC drops the bind, and goes on sending', async () => {
    await setUp();
    const before = smsMessage('first');
    await harness!.append(before);
    await harness!.waitForStatus(before.id, ['processed']);
    expect(smsc.binds).toBe(1);
    smsc.dropAll();
    const after = smsMessage('second');
    await harness!.append(after);
    await harness!.waitForStatus(after.id, ['processed']);
    expect(smsc.binds).toBe(2);
    expect(smsc.submits.map((pdu) => partOf(pdu).text)).toEqual(['first', 'second']);
  });
});

interface Received {
  headers: IncomingHttpHeaders;
  body: string;
}

describe('SMS over a webhook gateway', () => {
  const secret = 'a-webhook-secret-of-some-length';
  let requests: Received[];

  async function setUp(answer: (request: Received, n: number) => { status: number; body: string }): Promise<void> {
    requests = [];
    const server: Server = createServer((req, res) => {
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk.toString()));
      req.on('end', () => {
        const request = { headers: req.headers, body };
        requests.push(request);
        const { status, body: reply } = answer(request, requests.length);
        res.writeHead(status, { 'content-type': 'application/json' }).end(reply);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    cleanups.push(() => new Promise((resolve) => server.close(() => resolve())));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/sms`;
    harness = await startDeliverHarness({ redis: { url: redisUrl }, deliver: { webhook: { url, secret } } });
  }

  it('posts a JSON body whose HMAC-SHA256 signature the receiver can verify', async () => {
    await setUp(() => ({ status: 202, body: '{"id":"gw-42"}' }));
    const message = smsMessage('Your cart is waiting');
    await harness!.append(message);
    const record = await harness!.waitForStatus(message.id, ['processed']);
    expect(record.remoteId).toBe('gw-42');
    const [request] = requests;
    const timestamp = String(request!.headers['x-rebound-timestamp']);
    const expected = `sha256=${createHmac('sha256', secret).update(`${timestamp}.${request!.body}`).digest('hex')}`;
    expect(request!.headers['x-rebound-signature']).toBe(expected);
    expect(request!.headers['idempotency-key']).toBe(message.id);
    expect(JSON.parse(request!.body)).toMatchObject({ id: message.id, to: '+33612345678', text: 'Your cart is waiting', encoding: 'GSM-7', segments: 1 });
  });

  it('retries after 429 and fails for good on 400', async () => {
    await setUp((request, n) => (JSON.parse(request.body).to === '+33700000000' ? { status: 400, body: '{"error":"invalid number"}' } : n === 1 ? { status: 429, body: '' } : { status: 200, body: '{}' }));
    const retried = smsMessage('Your cart is waiting');
    await harness!.append(retried);
    expect(await harness!.waitForStatus(retried.id, ['processed'])).toMatchObject({ attempts: '2' });
    const refused = smsMessage('Your cart is waiting', { to: '+33700000000' });
    await harness!.append(refused);
    const record = await harness!.waitForStatus(refused.id, ['deliveryFailed']);
    expect(record).toMatchObject({ reason: 'rejected', attempts: '1', error: 'HTTP 400: {"error":"invalid number"}' });
    expect(requests.filter((r) => JSON.parse(r.body).to === '+33700000000')).toHaveLength(1);
  });
});

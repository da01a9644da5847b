// POST /v1/triggers: Adobe trigger messages in the shapes Adobe delivers them (adobe-reference
// §2.1 webhook message, §2.8 I/O Events batch and journal page) land in the visitor's trigger log
// with the right fields; bad input gets its status and code and writes nothing; Redis down → 503.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { metricsRegistry } from '../../src/core/metrics.js';
import { decodeFiredRecord, encodeFiredRecord, fromAdobeMessage, parseAdobeMessage, toAdobeMessage, type FiredRecord } from '../../src/model/trigger-message.js';
import { startRedis, type RedisProcess } from '../support/redis-server.js';
import { sourceId, startTestIngest, waitFor, writeKey, type TestIngest } from './helpers.js';

const PIPELINE = 'com.adobe.mcloud.pipeline.pipelineMessage';
const TRIGGER = 'com.adobe.mcloud.protocol.trigger';
type Json = Record<string, unknown>;

/** The full envelope of Adobe's I/O Events sample: numeric offset, string header properties, no triggerName, empty products, "" in data. */
function adobeSample(mcId = '00000000000000000000000000000000000042'): Json {
  return {
    event_id: '0d7d3c2e-5f5b-4d53-9d0e-4b1b7f0a1c11',
    event: {
      envelopeType: 'DATA', partition: 13, offset: 438465548, createTime: 1700000003242, topic: 'triggers',
      [PIPELINE]: {
        header: {
          messageType: 'TRIGGER', source: 'triggers', sentTime: 1700000003228, imsOrg: 'ABC123@AdobeOrg', messageId: '7c0e9f5e-35c6-4a55-a3f4-2a1f5f2c7f10',
          properties: [{ name: 'trace', value: 'false' }, { name: 'sourceFirstTimestamp', value: '1699999900' }, { name: 'sourceLastTimestamp', value: '1699999950' }, { name: 'triggerFiredTimestamp', value: '1700000000100' }],
        },
        [TRIGGER]: {
          triggerId: '5a0c1d9e-2b7f-4d8e-9a44-8f1e0c6b2d33', triggerTimestamp: 1700000003228, mcId,
          enrichments: { analyticsHitSummary: {
            dimensions: {
              eVar3: { type: 'string', data: ['shop.example/home.html', 'shop.example/men.html', 'shop.example/cart.html'], name: 'eVar3', source: 'session summary' },
              pageURL: { type: 'string', data: ['https://shop.example/home.html', '', 'https://shop.example/cart.html'], name: 'pageURL', source: 'session summary' },
            },
            products: {},
          } },
          triggerPath: [
            { timestamp: 1699999910000, stateId: 'start_and_and', transition: 'null' },
            { timestamp: 1699999940000, stateId: 'vmi_and_1', transition: "conditional -> select * where evars.evars.eVar3 like 'shop.example/cart.html'" },
            { timestamp: 1699999940000, stateId: 'notify_wait', transition: 'states visited -> [StateVisitedNode [stateId=vmi_and_1, count=1, operator=GE]]' },
            { timestamp: 1700000000099, stateId: 'notify', transition: 'inactive_timeout -> 5' },
          ],
        },
      },
    },
  };
}

/** The trimmed variant of the I/O Events setup guide: a header with sentTime and imsOrg only, no envelope fields. */
function trimmedSample(mcId: string): Json {
  const trigger = { triggerId: 'trimmed-trigger', triggerTimestamp: 1700000100000, mcId, enrichments: { analyticsHitSummary: { dimensions: { pageURL: { type: 'string', data: ['https://shop.example/cart.html'], name: 'pageURL', source: 'session summary' } }, products: {} } } };
  return { event_id: 'e-trimmed', event: { [PIPELINE]: { header: { sentTime: 1700000100204, imsOrg: 'ABC123@AdobeOrg' }, [TRIGGER]: trigger } } };
}

/** SPEC §5.1's message: name, aliases, products, Rebound's include path, and a Classic-style int dimension with a spaced key. */
function specSample(mcId: string, finalTransition = 'inactive_timeout'): Json {
  return {
    event_id: 'e-spec', event: { envelopeType: 'DATA', topic: 'triggers', partition: 3, offset: '1764330000000-0', createTime: 1764330000123,
      [PIPELINE]: {
        header: { messageType: 'TRIGGER', source: 'triggers', sentTime: 1764330000120, imsOrg: 'org', messageId: 'm-1',
          properties: [{ name: 'sourceFirstTimestamp', value: '1764329100' }, { name: 'sourceLastTimestamp', value: '1764329400' }, { name: 'triggerFiredTimestamp', value: '1764330000100' }] },
        [TRIGGER]: {
          triggerId: 'b1c2d3e4-0000-4000-8000-000000000001', triggerName: 'cart-abandonment', triggerTimestamp: 1764330000100, mcId, aliases: { userId: 'u-42', crm: 'C-7' },
          enrichments: { analyticsHitSummary: {
            dimensions: { pageName: { type: 'string', data: ['cart'], name: 'pageName', source: 'session summary' }, ' eVar01': { type: 'string', data: ['SHOPPER-1'], name: ' eVar01', source: 'session summary' }, timeGMT: { type: 'int', data: [1764329100, 1764329400], name: 'timeGMT', source: 'session summary' } },
            products: { items: [{ sku: 'SKU-1', quantity: 2, price: 19.9, name: 'Boots' }, { sku: 'SKU-2', quantity: 1, price: 5, category: 'Socks' }] },
          } },
          triggerPath: [{ timestamp: 1764329400000, stateId: 'include:0', transition: 'hit' }, { timestamp: 1764330000100, stateId: 'notify', transition: finalTransition }],
        } } } };
}

const triggerOf = (message: Json): Json => ((message.event as Json)[PIPELINE] as Json)[TRIGGER] as Json;

let t: TestIngest;
beforeAll(async () => {
  t = await startTestIngest(inject('redisUrl'));
});
afterAll(() => t.close());

async function post(body: unknown, init: { auth?: string | false; query?: string; contentType?: string } = {}): Promise<{ status: number; body: Json; headers: Headers }> {
  const headers: Record<string, string> = { 'content-type': init.contentType ?? 'application/json' };
  if (init.auth !== false) headers.authorization = init.auth ?? t.auth;
  const response = await fetch(`${t.base}/v1/triggers${init.query ?? ''}`, { method: 'POST', headers, body: typeof body === 'string' ? body : JSON.stringify(body) });
  return { status: response.status, body: (await response.json()) as Json, headers: response.headers };
}

async function fired(test: TestIngest = t): Promise<Array<FiredRecord & { partition: number }>> {
  const { redis, keys } = test.runtime;
  const all: Array<FiredRecord & { partition: number }> = [];
  for (const p of keys.allPartitions()) for (const entry of await redis.xrange(keys.stream(p, 'fired'))) all.push({ ...decodeFiredRecord(entry.data as Buffer), partition: p });
  return all;
}

const receivedCount = async (): Promise<number> => (await metricsRegistry.getSingleMetric('rebound_triggers_received_total')?.get())?.values.find((v) => v.labels.source === sourceId)?.value ?? 0;

describe('accepted shapes', () => {
  it("stores Adobe's full I/O Events message in the visitor's partition with its fields", async () => {
    const mcId = '00000000000000000000000000000000000042';
    const before = await receivedCount();
    const { status, body } = await post(adobeSample(mcId));
    expect({ status, body }).toEqual({ status: 200, body: { success: true, accepted: 1 } });
    const records = (await fired()).filter((r) => r.visitorId === mcId);
    expect(records).toHaveLength(1);
    expect(records[0]).toEqual({
      triggerId: '5a0c1d9e-2b7f-4d8e-9a44-8f1e0c6b2d33', triggerName: '5a0c1d9e-2b7f-4d8e-9a44-8f1e0c6b2d33', version: 0, source: sourceId,
      visitorId: mcId, firedAt: 1700000003228, firstHitTs: 1699999900000, lastHitTs: 1699999950000, path: [],
      metadata: { eVar3: ['shop.example/home.html', 'shop.example/men.html', 'shop.example/cart.html'], pageURL: ['https://shop.example/home.html', '', 'https://shop.example/cart.html'] },
      cart: [], aliases: {}, type: 'abandonment', partition: t.runtime.keys.partitionOf(mcId),
    });
    expect(await receivedCount()).toBe(before + 1);
  });

  it('dates the hits at triggerTimestamp when the header has no source timestamps (trimmed sample)', async () => {
    expect((await post(trimmedSample('trimmed-1'))).status).toBe(200);
    const [record] = (await fired()).filter((r) => r.visitorId === 'trimmed-1');
    expect(record).toMatchObject({ triggerId: 'trimmed-trigger', firedAt: 1700000100000, firstHitTs: 1700000100000, lastHitTs: 1700000100000, metadata: { pageURL: ['https://shop.example/cart.html'] } });
  });

  it("keeps SPEC §5.1's name, aliases, products, int dimension, include path and type", async () => {
    expect((await post(specSample('spec-1'))).status).toBe(200);
    const [record] = (await fired()).filter((r) => r.visitorId === 'spec-1');
    expect(record).toMatchObject({
      triggerName: 'cart-abandonment', firstHitTs: 1764329100000, lastHitTs: 1764329400000, firedAt: 1764330000100, type: 'abandonment',
      aliases: { userId: 'u-42', crm: 'C-7' }, path: [{ container: 0, ts: 1764329400000 }],
      metadata: { pageName: ['cart'], ' eVar01': ['SHOPPER-1'], timeGMT: [1764329100, 1764329400] },
      cart: [{ sku: 'SKU-1', quantity: 2, price: 19.9, name: 'Boots' }, { sku: 'SKU-2', quantity: 1, price: 5, category: 'Socks' }],
    });
  });

  it('takes the type from the final transition', async () => {
    const cases = { action: 'action', session_end: 'sessionEnd', session_start: 'sessionStart', 'inactive_timeout -> 5': 'abandonment', 'something else': 'abandonment' };
    const batch = Object.keys(cases).map((transition, i) => specSample(`type-${i}`, transition));
    expect((await post(batch)).body).toEqual({ success: true, accepted: 5 });
    const records = await fired();
    Object.values(cases).forEach((type, i) => expect(records.find((r) => r.visitorId === `type-${i}`)?.type).toBe(type));
  });

  it('accepts an I/O Events batch (array) spread over partitions, all written', async () => {
    const ids = Array.from({ length: 12 }, (_, i) => `batch-${i}`);
    const before = await receivedCount();
    const { status, body } = await post(ids.map((id) => adobeSample(id)));
    expect({ status, body }).toEqual({ status: 200, body: { success: true, accepted: 12 } });
    const records = (await fired()).filter((r) => ids.includes(r.visitorId));
    expect(records.map((r) => r.visitorId).sort()).toEqual([...ids].sort());
    for (const record of records) expect(record.partition).toBe(t.runtime.keys.partitionOf(record.visitorId));
    expect(new Set(records.map((r) => r.partition)).size).toBeGreaterThan(1);
    expect(await receivedCount()).toBe(before + 12);
  });

  it('accepts {events: [...]} with webhook messages and journal entries {position, event}', async () => {
    const inner = adobeSample('journal-2').event;
    const events = [adobeSample('journal-0'), { position: 'camel:1', event: adobeSample('journal-1') }, { position: 'moose:2', event: inner }];
    expect((await post({ events })).body).toEqual({ success: true, accepted: 3 });
    expect((await fired()).filter((r) => r.visitorId.startsWith('journal-')).map((r) => r.visitorId).sort()).toEqual(['journal-0', 'journal-1', 'journal-2']);
  });

  it('takes the write key as Basic user, writeKey field or ?writeKey=', async () => {
    expect((await post({ ...adobeSample('key-field'), writeKey }, { auth: false })).status).toBe(200);
    expect((await post([adobeSample('key-query')], { auth: false, query: `?writeKey=${writeKey}` })).status).toBe(200);
    expect((await fired()).filter((r) => r.visitorId.startsWith('key-')).map((r) => r.source)).toEqual([sourceId, sourceId]);
  });

  it("answers Adobe I/O Events' challenge GET for a known write key", async () => {
    const ok = await fetch(`${t.base}/v1/triggers?writeKey=${writeKey}&challenge=8ec8d794-e0ab`);
    expect({ status: ok.status, type: ok.headers.get('content-type'), body: await ok.json() }).toEqual({ status: 200, type: 'application/json', body: { challenge: '8ec8d794-e0ab' } });
    expect((await fetch(`${t.base}/v1/triggers?writeKey=nope&challenge=x`)).status).toBe(401);
    expect((await fetch(`${t.base}/v1/triggers`, { method: 'PUT', headers: { authorization: t.auth }, body: '{}' })).status).toBe(405);
  });
});

describe('round trips', () => {
  const position = { partition: 1, offset: '1764330000000-0', imsOrg: 'rebound@AdobeOrg' };

  it.each([['SPEC §5.1 message', specSample('rt-1')], ["Adobe's sample", adobeSample()]])('toAdobeMessage(fromAdobeMessage(%s)) keeps ids, aliases, dimensions and products', (_name, sample) => {
    const input = triggerOf(sample);
    const output = triggerOf(toAdobeMessage(fromAdobeMessage(parseAdobeMessage(sample), sourceId), position));
    expect(output).toMatchObject({ triggerId: input.triggerId, mcId: input.mcId, triggerTimestamp: input.triggerTimestamp, aliases: input.aliases ?? {}, triggerName: input.triggerName ?? input.triggerId });
    const summary = (input.enrichments as Json).analyticsHitSummary as { dimensions: Record<string, { data: unknown[] }>; products: { items?: unknown[] } };
    const out = (output.enrichments as Json).analyticsHitSummary as typeof summary;
    for (const [name, dimension] of Object.entries(summary.dimensions)) expect(out.dimensions[name]).toMatchObject({ name, data: dimension.data, source: 'session summary' });
    expect(out.products.items).toEqual(summary.products.items ?? []);
  });

  it('a message Rebound shows is accepted back as the same record', async () => {
    const original = fromAdobeMessage(parseAdobeMessage(specSample('rt-2')), sourceId);
    expect(decodeFiredRecord(encodeFiredRecord(original))).toEqual(original);
    expect((await post(toAdobeMessage(original, position))).status).toBe(200);
    const [{ partition: _p, ...stored }] = (await fired()).filter((r) => r.visitorId === 'rt-2') as [FiredRecord & { partition: number }];
    expect(stored).toEqual(original);
  });
});

describe('bad input: status, code, nothing written', () => {
  const mcIdPath = `event["${PIPELINE}"]["${TRIGGER}"].mcId`;
  const withTrigger = (change: (trigger: Json) => void, mcId = 'bad-visitor'): Json => {
    const sample = specSample(mcId);
    change(triggerOf(sample));
    return sample;
  };
  const cases: Array<[string, () => Promise<{ status: number; body: Json }>, number, string, Json?]> = [
    ['not JSON', () => post('{"event": '), 400, 'INGEST_BODY_MALFORMED'],
    ['a JSON scalar', () => post('42'), 400, 'INGEST_BODY_MALFORMED'],
    ['missing mcId', () => post(withTrigger((tr) => delete tr.mcId)), 400, 'TRIGGER_MESSAGE_INVALID', { index: 0, path: mcIdPath }],
    ['mcId of message 2 missing in a batch', () => post([specSample('bad-0'), specSample('bad-1'), withTrigger((tr) => delete tr.mcId)]), 400, 'TRIGGER_MESSAGE_INVALID', { index: 2, path: `[2].${mcIdPath}` }],
    ['triggerTimestamp as text', () => post({ events: [withTrigger((tr) => (tr.triggerTimestamp = '1764330000100'))] }), 400, 'TRIGGER_MESSAGE_INVALID', { index: 0, path: `events[0].event["${PIPELINE}"]["${TRIGGER}"].triggerTimestamp` }],
    ['dimension data not an array', () => post(withTrigger((tr) => ((((tr.enrichments as Json).analyticsHitSummary as Json).dimensions as Json).pageName = { data: 'cart' }))), 400, 'TRIGGER_MESSAGE_INVALID'],
    ['a product without sku', () => post(withTrigger((tr) => ((((tr.enrichments as Json).analyticsHitSummary as Json).products as Json).items = [{ quantity: 1 }]))), 400, 'TRIGGER_MESSAGE_INVALID'],
    ['an alias that is an object', () => post(withTrigger((tr) => (tr.aliases = { userId: { id: 1 } }))), 400, 'TRIGGER_MESSAGE_INVALID'],
    ['a non-numeric sourceFirstTimestamp', () => { const s = specSample('bad-visitor'); (((s.event as Json)[PIPELINE] as Json).header as Json).properties = [{ name: 'sourceFirstTimestamp', value: 'yesterday' }]; return post(s); }, 400, 'TRIGGER_MESSAGE_INVALID', { path: `event["${PIPELINE}"].header.properties[0].value` }],
    ['a bare pipelineMessage', () => post((specSample('bad-visitor').event as Json)[PIPELINE]), 400, 'TRIGGER_MESSAGE_INVALID'],
    ['an empty batch', () => post([]), 400, 'TRIGGER_MESSAGE_INVALID'],
    ['an empty journal page', () => post({ events: [] }), 400, 'TRIGGER_MESSAGE_INVALID'],
    ['events not an array', () => post({ events: {} }), 400, 'TRIGGER_MESSAGE_INVALID'],
    ['more than 1,000 messages', () => post(Array.from({ length: 1001 }, () => trimmedSample('bad-visitor'))), 400, 'TRIGGER_MESSAGE_INVALID'],
    ['over 2 MB', () => post([{ ...specSample('bad-visitor'), pad: 'x'.repeat(2 * 1024 * 1024) }]), 413, 'INGEST_BODY_TOO_LARGE'],
    ['an unknown write key', () => post(specSample('bad-visitor'), { auth: `Basic ${Buffer.from('wk_nobody_000:').toString('base64')}` }), 401, 'INGEST_WRITE_KEY_UNKNOWN'],
    ['no write key', () => post(specSample('bad-visitor'), { auth: false }), 401, 'INGEST_WRITE_KEY_MISSING'],
    ['a form body', () => post('a=1', { contentType: 'application/x-www-form-urlencoded' }), 415, 'INGEST_CONTENT_TYPE'],
  ];

  it.each(cases)('%s', async (_name, send, status, code, details) => {
    const before = (await fired()).length;
    const received = await receivedCount();
    const reply = await send();
    expect(reply.status).toBe(status);
    expect(reply.body).toMatchObject({ error: { code, ...details } });
    expect((await fired()).length).toBe(before);
    expect(await receivedCount()).toBe(received);
  });

  it('names every problem of the message and hints at the whole shape for a bare one', async () => {
    const { body } = await post([specSample('bad-0'), withTrigger((tr) => { delete tr.mcId; tr.triggerTimestamp = -1; })]);
    const message = (body.error as Json).message as string;
    expect(message).toContain('invalid trigger message 1');
    expect(message).toContain(`[1].${mcIdPath}: Required`);
    expect(message).toContain('triggerTimestamp: Number must be greater than or equal to 0');
    const bare = await post(triggerOf(specSample('bad-visitor')));
    expect((bare.body.error as Json).message).toContain('send it whole');
  });
});

describe('Redis down', () => {
  let redis: RedisProcess;
  let down: TestIngest;
  beforeAll(async () => {
    redis = await startRedis();
    down = await startTestIngest(redis.url);
  });
  afterAll(async () => {
    await down.close();
    await redis.stop();
  });

  it('answers 503 with Retry-After, then 200 once Redis is back', async () => {
    const send = (mcId: string): Promise<Response> => fetch(`${down.base}/v1/triggers`, { method: 'POST', headers: { authorization: down.auth, 'content-type': 'application/json' }, body: JSON.stringify([adobeSample(mcId), adobeSample(`${mcId}-b`)]) });
    await redis.stop();
    const reply = await send('during');
    expect(reply.status).toBe(503);
    expect(reply.headers.get('retry-after')).toBe('1');
    expect(await reply.json()).toMatchObject({ error: { code: 'REDIS_UNAVAILABLE' } });
    await redis.restart();
    await waitFor(async () => ((await send('after')).status === 200 ? true : undefined), 15_000, 'ingest to answer 200 again');
    const visitors = (await fired(down)).map((r) => r.visitorId);
    expect(visitors).toContain('after');
    expect(visitors).not.toContain('during');
  });
});

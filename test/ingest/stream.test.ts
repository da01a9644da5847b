// WebSocket /v1/stream: many frames in flight, acks matched by seq in any order, nacks that
// name the error, and an unknown write key refused at the upgrade.
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { encode } from '../../src/core/codec.js';
import { startTestIngest, waitFor, writeKey, type TestIngest } from './helpers.js';

let t: TestIngest;
beforeAll(async () => {
  t = await startTestIngest(inject('redisUrl'), { maxConnectionInFlightBytes: 65_536 });
});
afterAll(() => t.close());

interface Answer {
  ack?: number;
  nack?: number | null;
  error?: { code: string; index?: number };
}

async function open(key = writeKey): Promise<{ ws: WebSocket; answers: Answer[] }> {
  const ws = new WebSocket(`${t.base.replace('http', 'ws')}/v1/stream?writeKey=${key}`);
  const answers: Answer[] = [];
  ws.on('message', (data) => answers.push(JSON.parse(data.toString()) as Answer));
  await new Promise<void>((resolve, reject) => {
    ws.on('open', resolve);
    ws.on('error', reject);
  });
  return { ws, answers };
}

describe('WebSocket /v1/stream', () => {
  it('acks 200 frames in flight at once, each by its seq, and writes every hit', async () => {
    const { ws, answers } = await open();
    for (let seq = 0; seq < 200; seq++) {
      const hits = Array.from({ length: 5 }, (_, i) => ({ id: `f${seq}-${i}`, visitorId: `vis-${(seq * 5 + i) % 37}`, events: ['event1'] }));
      const frame = { seq, hits };
      if (seq % 2 === 0) ws.send(JSON.stringify(frame));
      else ws.send(encode(frame), { binary: true });
    }
    await waitFor(async () => (answers.length >= 200 ? true : undefined), 10_000, '200 answers');
    expect(answers.filter((a) => a.nack !== undefined)).toEqual([]);
    expect(answers.map((a) => a.ack).sort((a, b) => (a ?? 0) - (b ?? 0))).toEqual(Array.from({ length: 200 }, (_, i) => i));
    const ids = new Set((await t.hits()).map((h) => h.id));
    for (let seq = 0; seq < 200; seq++) for (let i = 0; i < 5; i++) expect(ids.has(`f${seq}-${i}`)).toBe(true);
    ws.close();
  });

  it('nacks bad frames with the error and its index, and keeps the socket open', async () => {
    const { ws, answers } = await open();
    ws.send('{"seq": 1, "hits": [{"visitorId": "v"}, {"events": []}]}');
    ws.send('not json');
    ws.send(encode({ seq: 3, hits: [{ visitorId: 'trunc' }] }).subarray(0, 12), { binary: true });
    ws.send('{"seq": 4, "hits": "nope"}');
    ws.send('{"seq": 5, "hits": [{"visitorId": "ok-5"}]}');
    await waitFor(async () => (answers.length >= 5 ? true : undefined), 5000, '5 answers');
    expect(answers).toContainEqual(expect.objectContaining({ nack: 1, error: expect.objectContaining({ code: 'HIT_INVALID', index: 1 }) }));
    expect(answers).toContainEqual(expect.objectContaining({ nack: null, error: expect.objectContaining({ code: 'INGEST_BODY_MALFORMED' }) }));
    expect(answers).toContainEqual(expect.objectContaining({ nack: null, error: expect.objectContaining({ code: 'CODEC_DECODE_FAILED' }) }));
    expect(answers).toContainEqual(expect.objectContaining({ nack: 4, error: expect.objectContaining({ code: 'INGEST_BODY_MALFORMED' }) }));
    expect(answers).toContainEqual({ ack: 5 });
    expect((await t.hits()).some((h) => h.visitorId === 'v')).toBe(false);
    ws.close();
  });

  it('nacks frames over the per-connection unacknowledged bound with INGEST_OVERLOADED', async () => {
    const { ws, answers } = await open();
    const big = (seq: number) => JSON.stringify({ seq, hits: [{ visitorId: `big-${seq}`, dims: { pad: 'x'.repeat(30_000) } }] });
    for (let seq = 0; seq < 10; seq++) ws.send(big(seq));
    await waitFor(async () => (answers.length >= 10 ? true : undefined), 5000, '10 answers');
    const overloaded = answers.filter((a) => a.error?.code === 'INGEST_OVERLOADED');
    expect(overloaded.length).toBeGreaterThan(0);
    expect(answers.filter((a) => a.ack !== undefined).length + overloaded.length).toBe(10);
    ws.close();
  });

  it('refuses an unknown write key at the upgrade with 401', async () => {
    const ws = new WebSocket(`${t.base.replace('http', 'ws')}/v1/stream?writeKey=wk_nobody_000000`);
    const status = await new Promise<number>((resolve) => {
      ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      ws.on('error', () => {});
    });
    expect(status).toBe(401);
  });
});

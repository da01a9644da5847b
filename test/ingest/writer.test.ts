// The micro-batching writer against a real Redis: overlapping flushes whose entry buffers are
// reused once Redis has answered still store every hit exactly as written, once; hits that come
// due while a flush is in flight go together in the next one.
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { connectRedis, type RedisPort } from '../../src/core/redis/client.js';
import { Keys } from '../../src/core/redis/keys.js';
import { HitWriter } from '../../src/ingest/writer.js';
import { decodeHits, type Hit } from '../../src/model/hit.js';
import { newPrefix } from '../stages/pipeline-helpers.js';
import { startRedis } from '../support/redis-server.js';

let redis: RedisPort;
beforeAll(async () => {
  redis = await connectRedis({ url: inject('redisUrl') }, { connectTimeoutMs: 2000, name: 'writer-test' });
});
afterAll(async () => {
  await redis.close();
});

function hitsOf(round: number, request: number): Hit[] {
  // Sizes vary from round to round (some pages are long): entries outgrow the buffers they reuse.
  const page = round % 5 === 0 ? `p${'é'.repeat(3000 + request * 100)}` : `page ${round}`;
  return Array.from({ length: 30 }, (_, i) => ({
    id: `${round}-${request}-${i}`,
    source: 'shop',
    visitorId: `v${(round * 7 + request * 3 + i) % 41}`,
    ts: round * 1000 + i,
    receivedAt: round,
    type: 'track',
    events: ['cartAdd'],
    pageName: page,
    dims: { round, request, i },
  }));
}

async function storedHits(keys: Keys, port = redis): Promise<Hit[]> {
  const all: Hit[] = [];
  for (const p of keys.allPartitions()) for (const entry of await port.xrange(keys.stream(p, 'hits'))) all.push(...decodeHits(entry.data as Buffer));
  return all;
}

describe('HitWriter', () => {
  it('stores every hit of overlapping flushes exactly once and unchanged', async () => {
    const keys = new Keys(newPrefix(), 4);
    const writer = new HitWriter(redis, keys, { flushHits: 50, flushWindowMs: 0 });
    const written: Hit[] = [];
    let pending: Array<Promise<void>> = [];
    for (let round = 0; round < 60; round++) {
      for (let request = 0; request < 4; request++) {
        const hits = hitsOf(round, request);
        written.push(...hits);
        pending.push(writer.write(hits));
      }
      // Every other round waits for the appends: flushes overlap in between, follow each other here.
      if (round % 2 === 1) {
        await Promise.all(pending);
        pending = [];
      }
    }
    await Promise.all(pending);
    await writer.drain();
    const stored = await storedHits(keys);
    const byId = new Map(stored.map((hit) => [hit.id, hit]));
    expect(stored).toHaveLength(written.length);
    expect(byId.size).toBe(written.length);
    for (const hit of written) expect(byId.get(hit.id)).toStrictEqual(hit);
  });
});

describe('HitWriter with a flush in flight', () => {
  it('sends the hits that came due meanwhile in one entry per partition once it has answered, and answers every request', async () => {
    // A private server: CLIENT PAUSE holds the first flush's XADDs without touching other tests.
    const server = await startRedis();
    const port = await connectRedis({ url: server.url }, { connectTimeoutMs: 2000, name: 'writer-pause' });
    const admin = new Redis(server.url);
    try {
      const keys = new Keys(newPrefix(), 4);
      const writer = new HitWriter(port, keys, { flushHits: 10_000, flushWindowMs: 1 });
      // 40 visitors: every request has hits in every partition.
      const request = (n: number): Hit[] => Array.from({ length: 40 }, (_, i) => ({ id: `${n}-${i}`, source: 's', visitorId: `v${i}`, ts: i, receivedAt: n, type: 'track', events: [] }));
      await admin.call('CLIENT', 'PAUSE', '1500', 'WRITE');
      const first = writer.write(request(1));
      await new Promise((resolve) => setTimeout(resolve, 100));
      const second = writer.write(request(2));
      await new Promise((resolve) => setTimeout(resolve, 100));
      const third = writer.write(request(3));
      await Promise.all([first, second, third]);
      // Requests 2 and 3 came due while the first flush was held by Redis: one entry for both.
      const perPartition = await Promise.all(keys.allPartitions().map((p) => port.xlen(keys.stream(p, 'hits'))));
      expect(perPartition).toStrictEqual([2, 2, 2, 2]);
      const ids = (await storedHits(keys, port)).map((hit) => hit.id).sort();
      expect(ids).toStrictEqual([1, 2, 3].flatMap((n) => request(n).map((hit) => hit.id)).sort());
    } finally {
      admin.disconnect();
      await port.close();
      await server.stop();
    }
  });
});

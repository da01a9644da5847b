// The work each role is given in the scale-out scenario (bench/scenarios/scaleout.ts), and how
// its end is seen: hits for detect (drained when the `detect` group has no lag and nothing
// pending), trigger messages for campaign (every one in the email outbox), outbox emails for
// deliver (every one accepted by the SMTP sink), and a closed-loop Segment /v1/batch load for
// ingest (bench/workers/load-generator.ts). Written straight to Redis as the stage before writes it.
import { fileURLToPath } from 'node:url';
import { encode } from '../../src/core/codec.js';
import type { RedisPort } from '../../src/core/redis/client.js';
import type { Keys } from '../../src/core/redis/keys.js';
import { outboxStream, type OutboxMessage } from '../../src/model/message.js';
import { encodeFiredRecord } from '../../src/model/trigger-message.js';
import { sleep } from '../support/harness.js';
import { HitFactory } from '../support/hits.js';
import type { LoadResult, LoadSpec } from '../support/ingest-load.js';
import { spawnTracked } from '../support/processes.js';
import { productPrice, sku } from './e2e-shoppers.js';
import { TRIGGER_ID, WRITE_KEY } from './e2e-shop.js';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const GENERATOR = fileURLToPath(new URL('../workers/load-generator.ts', import.meta.url));
const APPEND_CHUNK = 500;

export type Entry = { key: string; data: Buffer };

/** Appends in chunks (one round trip per chunk, per partition node on a cluster). */
export async function appendAll(redis: RedisPort, entries: readonly Entry[]): Promise<void> {
  for (let i = 0; i < entries.length; i += APPEND_CHUNK) await redis.xaddMany(entries.slice(i, i + APPEND_CHUNK));
}

/** Cart adds, 100 per entry, from visitors of every partition, as ingest writes them. */
export function hitEntries(keys: Keys, hits: number, seed: number): Entry[] {
  const factory = new HitFactory(keys, 500, seed);
  const entries = factory.entries(Math.ceil(hits / 100), 100, keys.partitions, Date.now());
  return entries.map((data, i) => ({ key: keys.stream(i % keys.partitions, 'hits'), data }));
}

/** Cart abandonment trigger messages of signed-in visitors (profiles 0 … profiles − 1), 1–2 items each. */
export function firedEntries(keys: Keys, count: number, profiles: number, products: number, tag: string): Entry[] {
  const now = Date.now();
  return Array.from({ length: count }, (_, i) => {
    const visitorId = `so-${tag}-${i}`;
    const items = i % 2 === 0 ? [i % products] : [i % products, (i * 7 + 3) % products];
    const data = encodeFiredRecord({
      triggerId: TRIGGER_ID, triggerName: TRIGGER_ID, version: 1, source: 'shop-web', visitorId, firedAt: now, firstHitTs: now - 60_000, lastHitTs: now - 30_000,
      path: [{ container: 0, ts: now - 30_000 }], metadata: {}, aliases: { userId: `cust-${i % profiles}` }, type: 'abandonment',
      cart: items.map((p) => ({ sku: sku(p), quantity: 1, price: productPrice(p) })),
    });
    return { key: keys.stream(keys.partitionOf(visitorId), 'fired'), data };
  });
}

/** Rendered emails of about 1.5 KB with their records, as the campaign stage leaves them. */
export async function appendEmails(redis: RedisPort, keys: Keys, count: number, tag: string): Promise<void> {
  const now = Date.now();
  const messages: OutboxMessage[] = Array.from({ length: count }, (_, i) => ({
    id: `so-${tag}-${i}`, eventId: 'EVTcartEmail', triggerId: TRIGGER_ID, channel: 'email', templateId: 'cart-email', templateVersion: 1,
    to: `customer${i}@example.com`, from: 'Shop <shop@example.com>', subject: 'Amélie, your cart is waiting',
    html: `<h1>Amélie, you left something behind</h1>${'<p><img src="https://cdn.example.com/p/1.jpg"> Product 1: 6,90 € × 1</p>'.repeat(12)}`,
    firedAt: now, expiresAt: now + 2 * 86_400_000,
  }));
  for (let i = 0; i < messages.length; i += APPEND_CHUNK) {
    const chunk = messages.slice(i, i + APPEND_CHUNK);
    await Promise.all(chunk.map((m) => redis.hset(keys.message(keys.partitionOf(m.id), m.id), 'status', 'processing')));
    await redis.xaddMany(chunk.map((m) => ({ key: keys.stream(keys.partitionOf(m.id), outboxStream('email')), data: encode(m) })));
  }
}

/** Entries the consumer group `group` has not finished on `stream` (lag + pending), all partitions. */
export async function backlog(redis: RedisPort, keys: Keys, stream: string, group: string): Promise<number> {
  const counts = await Promise.all(
    keys.allPartitions().map(async (p) => {
      const info = (await redis.xinfoGroups(keys.stream(p, stream))).find((g) => g.name === group);
      return info ? (info.lag ?? 0) + info.pending : await redis.xlen(keys.stream(p, stream));
    }),
  );
  return counts.reduce((a, b) => a + b, 0);
}

export async function outboxLength(redis: RedisPort, keys: Keys): Promise<number> {
  const lengths = await Promise.all(keys.allPartitions().map((p) => redis.xlen(keys.stream(p, 'out:email'))));
  return lengths.reduce((a, b) => a + b, 0);
}

/** Polls `done()` every 20 ms until it says so or `until` passes; false on timeout. */
export async function waitUntil(done: () => Promise<boolean>, until: number): Promise<boolean> {
  while (Date.now() < until) {
    if (await done()) return true;
    await sleep(20);
  }
  return done();
}

/** Closed-loop Segment /v1/batch load (100 messages per request) on `port` for warmupMs + durationMs. */
export async function ingestLoad(port: number, pids: Record<string, number>, warmupMs: number, durationMs: number): Promise<LoadResult> {
  const spec: LoadSpec = {
    host: '127.0.0.1', port, transport: 'http', path: '/v1/batch', body: 'segment-batch', hitsPerRequest: 100, writeKey: WRITE_KEY,
    connections: 32, window: 1, poolSize: 64, warmupMs, durationMs, pids,
  };
  const gen = spawnTracked(process.execPath, ['--import', 'tsx', GENERATOR], { cwd: REPO, env: { ...process.env, BENCH_LOAD: JSON.stringify(spec) }, stdio: ['pipe', 'pipe', 'pipe'] });
  const timer = setTimeout(() => void gen.stop(1000), warmupMs + durationMs + 60_000);
  const code = await gen.exited;
  clearTimeout(timer);
  const line = gen.output().split('\n').find((l) => l.startsWith('result '));
  if (code !== 0 || !line) throw new Error(`the load generator exited with ${code}:\n${gen.output().slice(-2000)}`);
  return JSON.parse(line.slice('result '.length)) as LoadResult;
}

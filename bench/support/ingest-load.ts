// What the ingest scenario asks of its load generator (bench/workers/load-generator.ts) and what
// it gets back, plus the request bodies both sides agree on: canonical hits (JSON, MessagePack),
// Segment messages and WebSocket frames, built from the seeded HitFactory so every run sends the
// same data.
import { Packr } from 'msgpackr';
import { Keys } from '../../src/core/redis/keys.js';
import { HitFactory, type BenchHit } from './hits.js';

export type BodyKind = 'hits-json' | 'hits-msgpack' | 'segment-batch' | 'segment-track' | 'stream-json';

export interface LoadSpec {
  host: string;
  port: number;
  transport: 'http' | 'ws';
  path: string;
  body: BodyKind;
  hitsPerRequest: number;
  writeKey: string;
  /** Keep-alive connections (HTTP) or WebSockets. */
  connections: number;
  /** WebSocket frames in flight per socket (HTTP: one request per connection at a time). */
  window: number;
  /** Distinct bodies, sent in turn. */
  poolSize: number;
  /** Load before the measured window (JIT, pools and Redis warm up); acked hits count, figures do not. */
  warmupMs: number;
  durationMs: number;
  /** Open-loop requests (or frames) per second; absent = as fast as the connections allow (closed loop). */
  ratePerSec?: number;
  /** Processes whose CPU time (/proc/<pid>/stat) is read at the edges of the measured window. */
  pids: Record<string, number>;
}

export interface LoadResult {
  /** Requests (frames) answered 2xx (acked) within the measured window, and their hits. */
  requests: number;
  hits: number;
  seconds: number;
  /** Answers other than 2xx/ack within the window, by status (or nack code, or "network"). */
  errors: Record<string, number>;
  latencyP50Ms: number;
  latencyP99Ms: number;
  latencyMaxMs: number;
  /** CPU seconds of each named pid over the window, and `generator` (this load generator). */
  cpuSeconds: Record<string, number | null>;
  /** Hits acked over the whole run, warm-up and drain included: what must be in the streams. */
  ackedHits: number;
  /** Requests (frames) sent over the whole run, and those still unanswered when the generator gave up. */
  sent: number;
  unanswered: number;
  /** Paced runs: requests due that were not sent because too many were already queued. */
  skipped: number;
  /**
   * HTTP: the p99 of each part of a request's latency, to tell where a long one was: `late` from
   * when it was due until the generator issued it (its own scheduling; paced runs), `queued`
   * waiting for a free connection (the servers answer slower than requests come), `onConnection`
   * from writing it until its answer was read (the server, the kernel and Redis).
   */
  partsP99Ms?: { late: number; queued: number; onConnection: number };
}

export const PARTITIONS = 16;

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

/** A Segment `track` of the analytics-node shape for a bench hit (Product Added with page context). */
export function segmentTrack(hit: BenchHit): Record<string, unknown> {
  const product = hit.products[0] ?? { sku: 'SKU-0', price: 1, quantity: 1 };
  return {
    type: 'track',
    event: 'Product Added',
    anonymousId: hit.visitorId,
    messageId: hit.id,
    timestamp: iso(hit.ts),
    properties: { product_id: product.sku, sku: product.sku, name: hit.pageName, price: product.price, quantity: product.quantity, currency: 'EUR', cart_id: `cart-${hit.visitorId.slice(0, 8)}` },
    context: {
      library: { name: '@segment/analytics-node', version: '3.1.0' },
      page: { url: `https://shop.example/p/${product.sku}`, title: hit.pageName, referrer: 'https://shop.example/' },
    },
  };
}

export interface Body {
  bytes: Buffer;
  hits: number;
}

/**
 * `count` distinct bodies of `hitsPerRequest` hits each, from visitors of every partition (a
 * collector forwarding many visitors' hits). stream-json returns the hits array alone: the
 * generator wraps it in `{"seq":n,"hits":…}`.
 */
export function buildBodies(kind: BodyKind, hitsPerRequest: number, count: number, seed = 7): Body[] {
  const factory = new HitFactory(new Keys('gen', PARTITIONS), 500, seed);
  const plain = new Packr({ useRecords: false, moreTypes: false });
  const start = Date.UTC(2025, 0, 15, 12);
  const bodies: Body[] = [];
  let n = 0;
  for (let b = 0; b < count; b++) {
    const hits = Array.from({ length: hitsPerRequest }, () => factory.hit(n % PARTITIONS, start + n++));
    let bytes: Buffer;
    switch (kind) {
      case 'hits-json':
      case 'stream-json':
        bytes = Buffer.from(JSON.stringify(hits));
        break;
      case 'hits-msgpack':
        // What a generic MessagePack client sends: plain maps, no msgpackr records.
        bytes = plain.pack(hits);
        break;
      case 'segment-batch':
        bytes = Buffer.from(JSON.stringify({ batch: hits.map(segmentTrack), sentAt: iso(start + n) }));
        break;
      case 'segment-track':
        bytes = Buffer.from(JSON.stringify({ ...segmentTrack(hits[0] as BenchHit), sentAt: iso(start + n) }));
        break;
    }
    bodies.push({ bytes, hits: hits.length });
  }
  return bodies;
}

export function contentType(kind: BodyKind): string {
  return kind === 'hits-msgpack' ? 'application/msgpack' : 'application/json';
}

export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] as number;
}

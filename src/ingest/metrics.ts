// Ingest metrics (SPEC §9): hits by source and result, request latency, bytes received.
// Label children are cached so the hot path does no label lookup.
import type { Counter, Histogram } from 'prom-client';
import { counter, histogram } from '../core/metrics.js';

export type HitResult = 'written' | 'rejected' | 'failed' | 'overloaded';

const hits = counter('rebound_ingest_hits_total', 'Hits received by ingest, by source and result (written, rejected, failed, overloaded).', ['source', 'result']);
const seconds = histogram('rebound_ingest_request_seconds', 'Ingest request latency until the answer, by route and status.', ['route', 'status'], [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5]);
const bytes = counter('rebound_ingest_bytes_total', 'Request body bytes received by ingest, by route.', ['route']);

const hitChildren = new Map<string, Counter.Internal>();
const secondsChildren = new Map<string, Histogram.Internal<'route' | 'status'>>();
const bytesChildren = new Map<string, Counter.Internal>();

export function countHits(source: string, result: HitResult, n: number): void {
  const key = `${source}\n${result}`;
  let child = hitChildren.get(key);
  if (!child) hitChildren.set(key, (child = hits.labels(source, result)));
  child.inc(n);
}

export function observeRequest(route: string, status: number, elapsed: number, bodyBytes: number): void {
  const key = `${route}\n${status}`;
  let child = secondsChildren.get(key);
  if (!child) secondsChildren.set(key, (child = seconds.labels(route, String(status))));
  child.observe(elapsed);
  if (bodyBytes === 0) return;
  let bytesChild = bytesChildren.get(route);
  if (!bytesChild) bytesChildren.set(route, (bytesChild = bytes.labels(route)));
  bytesChild.inc(bodyBytes);
}

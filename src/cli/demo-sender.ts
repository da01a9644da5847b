// Sends the simulated shoppers' Segment messages when they are due, as a website's server-side
// Segment client would: POST /v1/batch with the source's write key as the HTTP Basic user name
// (plain fetch; the real @segment/analytics-node client is only a test dependency). Bounded: at
// most `maxQueued` messages waiting, `batchSize` per request and `maxInFlight` requests at once.
// 429 and 503 are retried after a second with the same messageIds (ingest de-duplicates them);
// a refused write key or an unreachable ingest stops the demo with DEMO_INGEST_FAILED.
import { ReboundError } from '../core/errors.js';
import type { ShopperStep } from './demo-shoppers.js';

export const senderLimits = { maxQueued: 100_000, batchSize: 200, maxInFlight: 4, timeoutMs: 10_000, retryAfterMs: 1000 } as const;

interface Queued {
  due: number;
  message: Record<string, unknown>;
}

export class SegmentSender {
  readonly #url: string;
  readonly #authorization: string;
  #queue: Queued[] = [];
  /** Messages the ingest API accepted (200). */
  sent = 0;
  /** Messages it refused (4xx other than 401/429): a bug in the demo, shown with the last error. */
  refused = 0;
  /** Requests answered 429 or 503 and queued again. */
  retried = 0;
  lastError: string | undefined;

  constructor(ingestUrl: string, writeKey: string) {
    this.#url = `${ingestUrl.replace(/\/+$/, '')}/v1/batch`;
    this.#authorization = `Basic ${Buffer.from(`${writeKey}:`).toString('base64')}`;
  }

  /** Messages waiting to be sent. */
  get queued(): number {
    return this.#queue.length;
  }

  /** Queues a shopper's steps, due from `arrivedAt`; false (nothing queued) when the queue is full. */
  enqueue(steps: readonly ShopperStep[], arrivedAt: number): boolean {
    if (this.#queue.length + steps.length > senderLimits.maxQueued) return false;
    for (const step of steps) this.#queue.push({ due: arrivedAt + step.at, message: step.message });
    return true;
  }

  /** Sends every message due at `now` (in order of due time); resolves once the requests are answered. */
  async flush(now: number): Promise<void> {
    const due = this.#queue.filter((q) => q.due <= now).sort((a, b) => a.due - b.due);
    if (due.length === 0) return;
    this.#queue = this.#queue.filter((q) => q.due > now);
    const batches: Queued[][] = [];
    for (let i = 0; i < due.length; i += senderLimits.batchSize) batches.push(due.slice(i, i + senderLimits.batchSize));
    for (let i = 0; i < batches.length; i += senderLimits.maxInFlight) {
      await Promise.all(batches.slice(i, i + senderLimits.maxInFlight).map((batch) => this.#send(batch)));
    }
  }

  async #send(batch: Queued[]): Promise<void> {
    let response: Response;
    try {
      response = await fetch(this.#url, {
        method: 'POST',
        headers: { authorization: this.#authorization, 'content-type': 'application/json' },
        body: JSON.stringify({ batch: batch.map((q) => q.message), sentAt: new Date().toISOString() }),
        signal: AbortSignal.timeout(senderLimits.timeoutMs),
      });
    } catch (err) {
      const { cause } = err as { cause?: { code?: string; message?: string } };
      const why = cause?.code ?? cause?.message ?? (err as Error).message;
      throw new ReboundError('DEMO_INGEST_FAILED', `cannot reach the ingest API at ${this.#url} (${why}); start Rebound (npm start) or pass --ingest-url`, { cause: err });
    }
    const text = await response.text();
    if (response.status === 200) {
      this.sent += batch.length;
      return;
    }
    const error = errorOf(text) ?? `HTTP ${response.status}`;
    if (response.status === 401) throw new ReboundError('DEMO_INGEST_FAILED', `the ingest API refused the write key (${error}); pass --write-key with a key of the demo source`);
    this.lastError = error;
    if (response.status === 429 || response.status === 503) {
      this.retried++;
      const due = Date.now() + senderLimits.retryAfterMs;
      for (const q of batch) this.#queue.push({ due, message: q.message });
    } else {
      this.refused += batch.length;
    }
  }
}

function errorOf(text: string): string | undefined {
  try {
    const error = (JSON.parse(text) as { error?: { code?: string; message?: string } }).error;
    return error === undefined ? undefined : `${error.code ?? ''}: ${error.message ?? ''}`;
  } catch {
    return undefined;
  }
}

// The micro-batching writer: hits of concurrent requests are grouped per partition and appended
// as ONE stream entry per partition per flush (`d` = msgpack array of hits). A flush happens when
// `flushHits` hits wait, or `flushWindow` (1 ms) after the first hit that waits, or, if the
// previous flush has not answered by then, as soon as it has (one flush in flight). Each hit is
// encoded into its partition's open entry as it is written (src/model/hit-encoder.ts): a flush
// only closes the entries, and no hit object outlives its request's handler.
// Invariant: one request's hits of one partition always travel in the same entry, and a request
// resolves only when every entry carrying its hits has been acknowledged by Redis. If one of its
// entries fails, the request is rejected (503) even if others were written: the client's retry
// duplicates those, and detect drops the duplicates by hit id (docs/decisions.md).
import type { RedisPort } from '../core/redis/client.js';
import type { Keys } from '../core/redis/keys.js';
import type { Hit } from '../model/hit.js';
import { HitEntryBuilder } from '../model/hit-encoder.js';

class Ticket {
  remaining = 0;
  error: unknown = undefined;
  readonly promise: Promise<void>;
  resolve!: () => void;
  reject!: (err: unknown) => void;

  constructor() {
    this.promise = new Promise<void>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
  }

  settle(err: unknown): void {
    if (err !== undefined && this.error === undefined) this.error = err;
    if (--this.remaining > 0) return;
    if (this.error === undefined) this.resolve();
    else this.reject(this.error);
  }
}

export interface WriterOptions {
  flushHits: number;
  /** Longest wait (ms) before waiting hits are appended; 0 = at the end of the event-loop turn. */
  flushWindowMs?: number;
  /** The stream hits go to; `hits` in production. */
  stream?: string;
}

export class HitWriter {
  readonly #redis: RedisPort;
  readonly #streams: string[];
  readonly #flushHits: number;
  readonly #flushWindowMs: number;
  readonly #keys: Keys;
  readonly #entries: HitEntryBuilder[];
  #tickets: Ticket[][];
  #touched: number[] = [];
  #waiting = 0;
  #scheduled = false;
  /** Flushes whose appends have not all answered yet. */
  #flushesInFlight = 0;
  /** A flush came due while another was in flight: it goes when that one has answered. */
  #held = false;
  readonly #inFlight = new Set<Promise<void>>();

  constructor(redis: RedisPort, keys: Keys, options: WriterOptions) {
    this.#redis = redis;
    this.#keys = keys;
    this.#flushHits = options.flushHits;
    this.#flushWindowMs = options.flushWindowMs ?? 0;
    this.#streams = keys.allPartitions().map((p) => keys.stream(p, options.stream ?? 'hits'));
    this.#entries = this.#streams.map(() => new HitEntryBuilder());
    this.#tickets = this.#streams.map(() => []);
  }

  /** Resolves when all the hits are durable; rejects (REDIS_UNAVAILABLE, …) when any is not. */
  write(hits: readonly Hit[]): Promise<void> {
    if (hits.length === 0) return Promise.resolve();
    const ticket = new Ticket();
    try {
      for (const hit of hits) {
        const p = this.#keys.partitionOf(hit.visitorId);
        const entry = this.#entries[p] as HitEntryBuilder;
        if (entry.count === 0) this.#touched.push(p);
        entry.add(hit);
        const tickets = this.#tickets[p] as Ticket[];
        if (tickets[tickets.length - 1] !== ticket) {
          tickets.push(ticket);
          ticket.remaining++;
        }
      }
    } catch (err) {
      // Not reachable with validated hits (the encoder takes any plain data): the hits queued before
      // the failure are still written, nobody waits for them.
      void ticket.promise.catch(() => undefined);
      this.#schedule();
      throw err;
    }
    this.#waiting += hits.length;
    if (this.#waiting >= this.#flushHits) this.flush();
    else this.#schedule();
    return ticket.promise;
  }

  #schedule(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    if (this.#flushWindowMs > 0) setTimeout(() => this.#due(), this.#flushWindowMs);
    else setImmediate(() => this.#due());
  }

  /**
   * The window is over. While the previous flush is in flight the waiting hits are held and go
   * as soon as it has answered (group commit). ioredis sends nothing earlier anyway: it keeps one
   * auto-pipeline in flight per connection and queues later commands until it answers, so
   * sending now would only queue more, smaller entries behind it (more XADDs, more CPU per hit)
   * where holding makes one entry per partition of everything that came due meanwhile.
   * `flushHits` waiting hits still flush at once.
   */
  #due(): void {
    this.#scheduled = false;
    if (this.#flushesInFlight > 0) this.#held = true;
    else this.flush();
  }

  #flushAnswered(): void {
    if (--this.#flushesInFlight > 0 || !this.#held) return;
    this.#held = false;
    this.flush();
  }

  /** Appends everything waiting now (one entry per touched partition, pipelined). */
  flush(): void {
    this.#scheduled = false;
    if (this.#touched.length === 0) return;
    const touched = this.#touched;
    this.#touched = [];
    this.#waiting = 0;
    this.#held = false;
    let unanswered = touched.length;
    const answered = (): void => {
      if (--unanswered === 0) this.#flushAnswered();
    };
    this.#flushesInFlight++;
    for (const p of touched) {
      const builder = this.#entries[p] as HitEntryBuilder;
      const data = builder.finish();
      const tickets = this.#tickets[p] as Ticket[];
      this.#tickets[p] = [];
      if (data === undefined) {
        answered();
        continue;
      }
      // One XADD per entry, issued in the same tick: ioredis auto-pipelines them, and each
      // entry's outcome reaches exactly the requests whose hits it carries. Once it has answered
      // (ioredis copied the bytes when it sent them, and sends nothing after the answer), the
      // entry's buffer goes back to its builder for the next entries.
      const done = this.#redis.xadd(this.#streams[p] as string, data).then(
        () => {
          builder.release(data);
          settleAll(tickets, undefined);
          answered();
        },
        (err: unknown) => {
          builder.release(data);
          settleAll(tickets, err);
          answered();
        },
      );
      this.#inFlight.add(done);
      void done.finally(() => this.#inFlight.delete(done));
    }
  }

  /** Flushes and waits for every append in flight (shutdown). */
  async drain(): Promise<void> {
    this.flush();
    await Promise.allSettled([...this.#inFlight]);
  }
}

function settleAll(tickets: Ticket[], err: unknown): void {
  for (const ticket of tickets) ticket.settle(err);
}

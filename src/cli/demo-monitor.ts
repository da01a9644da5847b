// What `rebound demo` reports while it runs, read from Redis: the triggers of the demo's source
// fired since the demo started (the trigger log of every partition, read forward from a cursor),
// and for each fired trigger the message of each published event of that trigger, followed
// through its record (SPEC §6.7) until it is final: sent (handed to the channel: with the file
// outbox, written to <dataDir>/outbox/…; latency = handedAt − firedAt), or not sent with its
// status and reason. Bounded: at most `maxTracked` messages followed, `recordsPerPoll` records
// read per poll (round robin), `entriesPerPoll` log entries per partition and poll.
import type { RedisPort } from '../core/redis/client.js';
import type { Keys } from '../core/redis/keys.js';
import type { StoredEvent } from '../model/event-store.js';
import { finalStatuses, type MessageStatus } from '../model/message.js';
import { decodeFiredRecord, type FiredRecord } from '../model/trigger-message.js';
import { messageIdOf } from '../stages/campaign/campaign-stage.js';

export const monitorLimits = { maxTracked: 50_000, recordsPerPoll: 2000, entriesPerPoll: 5000, latencySamples: 10_000 } as const;

interface Tracked {
  partition: number;
  id: string;
  channel: string;
  firedAt: number;
  /** Why it is not final yet, as last read (`inFlight` until its record exists). */
  state: string;
  done: boolean;
}

export interface DemoCounts {
  fired: number;
  firedByTrigger: Record<string, number>;
  sent: number;
  sentByChannel: Record<string, number>;
  /** Messages not final yet, by reason (`awaitingIdentity`, `inFlight` before the record exists, …). */
  waiting: Record<string, number>;
  /** Final messages that were not sent, by `status reason`. */
  notSent: Record<string, number>;
  /** Fire → handed to the channel, ms: the 50th and 99th percentiles over the latest sends. */
  p50Ms?: number;
  p99Ms?: number;
  /** Messages beyond `maxTracked`, counted as fired but not followed. */
  untracked: number;
}

const bump = (counts: Record<string, number>, key: string, by = 1): void => {
  counts[key] = (counts[key] ?? 0) + by;
};

/** The q-quantile (0…1) of sorted values, nearest rank. */
export function quantile(sorted: readonly number[], q: number): number | undefined {
  if (sorted.length === 0) return undefined;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}

export class DemoMonitor {
  readonly #redis: RedisPort;
  readonly #keys: Keys;
  readonly #source: string;
  readonly #events: readonly StoredEvent[];
  readonly #cursors: string[];
  #open: Tracked[] = [];
  #next = 0;
  readonly #latencies: number[] = [];
  readonly #counts: DemoCounts = { fired: 0, firedByTrigger: {}, sent: 0, sentByChannel: {}, waiting: {}, notSent: {}, untracked: 0 };

  /** Follows what fires from `startMs` on; `events` are the published events (others send nothing). */
  constructor(redis: RedisPort, keys: Keys, source: string, events: readonly StoredEvent[], startMs: number) {
    this.#redis = redis;
    this.#keys = keys;
    this.#source = source;
    this.#events = events;
    this.#cursors = keys.allPartitions().map(() => String(startMs));
  }

  /** Reads what fired since the last poll, then the records of the messages not final yet. */
  async poll(): Promise<void> {
    await Promise.all(this.#keys.allPartitions().map((p) => this.#readLog(p)));
    await this.#readRecords();
  }

  counts(): DemoCounts {
    const sorted = [...this.#latencies].sort((a, b) => a - b);
    const p50Ms = quantile(sorted, 0.5);
    const p99Ms = quantile(sorted, 0.99);
    const waiting: Record<string, number> = {};
    for (const tracked of this.#open) bump(waiting, tracked.state);
    return { ...structuredClone(this.#counts), waiting, ...(p50Ms === undefined ? {} : { p50Ms }), ...(p99Ms === undefined ? {} : { p99Ms }) };
  }

  async #readLog(partition: number): Promise<void> {
    const key = this.#keys.stream(partition, 'fired');
    for (let read = 0; read < monitorLimits.entriesPerPoll; ) {
      const cursor = this.#cursors[partition] as string;
      const entries = await this.#redis.xrange(key, cursor.includes('-') ? `(${cursor}` : cursor, '+', 500);
      for (const entry of entries) {
        this.#cursors[partition] = entry.id;
        if (entry.data !== undefined) this.#onFired(partition, decodeFiredRecord(entry.data));
      }
      read += entries.length;
      if (entries.length < 500) return;
    }
  }

  #onFired(partition: number, record: FiredRecord): void {
    if (record.source !== this.#source) return;
    this.#counts.fired++;
    bump(this.#counts.firedByTrigger, record.triggerName);
    for (const event of this.#events) {
      if (event.trigger !== record.triggerName && event.trigger !== record.triggerId) continue;
      if (this.#open.length >= monitorLimits.maxTracked) {
        this.#counts.untracked++;
        continue;
      }
      this.#open.push({ partition, id: messageIdOf(event.id, record), channel: event.channel, firedAt: record.firedAt, state: 'inFlight', done: false });
    }
  }

  async #readRecords(): Promise<void> {
    const count = Math.min(this.#open.length, monitorLimits.recordsPerPoll);
    const batch = Array.from({ length: count }, (_, i) => this.#open[(this.#next + i) % this.#open.length] as Tracked);
    this.#next = this.#open.length === 0 ? 0 : (this.#next + count) % this.#open.length;
    const fields = await Promise.all(batch.map((t) => this.#redis.hmget(this.#keys.message(t.partition, t.id), ['status', 'reason', 'handedAt'])));
    batch.forEach((tracked, i) => {
      const [status, reason, handedAt] = fields[i] ?? [];
      if (status === null || status === undefined) return;
      if (!finalStatuses.has(status as MessageStatus)) return void (tracked.state = reason || status);
      tracked.done = true;
      if (status === 'processed') this.#onSent(tracked, Number(handedAt));
      else bump(this.#counts.notSent, reason ? `${status} ${reason}` : status);
    });
    this.#open = this.#open.filter((t) => !t.done);
    if (this.#next >= this.#open.length) this.#next = 0;
  }

  #onSent(tracked: Tracked, handedAt: number): void {
    this.#counts.sent++;
    bump(this.#counts.sentByChannel, tracked.channel);
    if (!Number.isFinite(handedAt) || handedAt <= 0) return;
    if (this.#latencies.length >= monitorLimits.latencySamples) this.#latencies.shift();
    this.#latencies.push(Math.max(0, handedAt - tracked.firedAt));
  }
}

// Harness for the detect property and fault tests: detect runtimes started in-process on a chosen
// prefix (several may share one, as several `detect` processes do), hits appended to the partition
// streams as ingest writes them, the trigger log read back, and a precise "everything decided"
// condition (every hit entry acknowledged by the detect group, no timer left) instead of sleeps.
import { bootstrap, type Runtime } from '../../src/core/bootstrap.js';
import { parseConfig } from '../../src/core/config.js';
import { createLogger } from '../../src/core/log.js';
import { connectRedis, type RedisPort } from '../../src/core/redis/client.js';
import type { Keys } from '../../src/core/redis/keys.js';
import { encodeHits, type Hit } from '../../src/model/hit.js';
import { putSource } from '../../src/model/source-store.js';
import { decodeFiredRecord, type FiredRecord } from '../../src/model/trigger-message.js';
import { putTrigger } from '../../src/model/trigger-store.js';
import { detectGroup } from '../../src/stages/detect/detect-stage.js';
import { startDetect } from '../../src/stages/detect/role.js';
import { hookScripts } from '../support/script-hook.js';

export const source = 'shop-web';

export interface RuntimeOptions {
  redisUrl: string;
  prefix: string;
  /** Consumer name; must differ between runtimes sharing a prefix in one process. */
  instance: string;
  partitions?: number;
  /** Partitions this runtime serves (default all). */
  served?: number[];
  detect?: Record<string, string | number>;
  stages?: Record<string, string | number>;
}

export interface DetectRuntime {
  runtime: Runtime;
  /** Visitor keys whose hits this runtime applied (seen in its detect-apply calls). */
  applied: Set<string>;
  /** Partitions whose due timers this runtime decided (seen in its detect-fire calls). */
  decided: Set<number>;
  /** The partitions whose timers the runtime decides now. */
  timerPartitions(): readonly number[];
  close(): Promise<void>;
}

/** A detect role on its own connection; its detect-apply calls are observed to tell who applied what. */
export async function startDetectRuntime(options: RuntimeOptions): Promise<DetectRuntime> {
  const config = parseConfig({
    prefix: options.prefix,
    instance: options.instance,
    partitions: options.partitions ?? 4,
    redis: { url: options.redisUrl },
    log: { level: 'silent' },
    // Every runtime reads every partition unless told otherwise, so that runtimes sharing a prefix race on the same visitors.
    stages: { idlePoll: '10ms', claimIdle: '5s', partitions: 'all', ...options.stages, ...(options.served ? { partitions: options.served } : {}) },
    detect: { settle: '200ms', timerTick: '50ms', definitionsPoll: '200ms', ...options.detect },
  });
  const runtime = await bootstrap(config, createLogger('silent'));
  const applied = new Set<string>();
  const decided = new Set<number>();
  const timerKeys = new Map(runtime.keys.allPartitions().map((p) => [runtime.keys.timers(p), p]));
  // The role works over a connection of its own: its calls are observed there.
  hookScripts(runtime.redis, (name, keys) => {
    if (name === 'reboundDetectApply') for (const key of keys.slice(3)) applied.add(key); // after the stream, the timers and the last-write token
    if (name === 'reboundDetectFire') decided.add(timerKeys.get(keys[0] as string) as number);
  });
  const role = await startDetect(runtime);
  return { runtime, applied, decided, timerPartitions: () => role.timerPartitions(), close: async () => void (await runtime.lifecycle.shutdown(5000)) };
}

export function connect(redisUrl: string): Promise<RedisPort> {
  return connectRedis({ url: redisUrl }, { connectTimeoutMs: 10_000, name: 'test' });
}

/** The source (visit rules as given) and the triggers, put as an operator would. */
export async function putDefinitions(redis: RedisPort, keys: Keys, visit: Record<string, unknown>, triggers: readonly unknown[]): Promise<void> {
  await putSource(redis, keys, { kind: 'Source', id: source, writeKeys: ['wk_test_0123456789'], visit });
  for (const trigger of triggers) await putTrigger(redis, keys, trigger);
}

let counter = 0;

/** A complete hit; received now unless given. */
export function makeHit(visitorId: string, fields: Partial<Hit> = {}): Hit {
  const now = Date.now();
  return { id: `ph-${process.pid}-${++counter}`, source, visitorId, ts: now, receivedAt: now, type: 'track', events: [], ...fields };
}

/** Appends each hit as its own entry, in the order given, each received when appended; returns them as sent. */
export async function appendOneByOne(redis: RedisPort, keys: Keys, hits: readonly Hit[], pause?: () => Promise<void>): Promise<Hit[]> {
  const sent: Hit[] = [];
  for (const hit of hits) {
    const received = { ...hit, receivedAt: Date.now() };
    await redis.xadd(keys.stream(keys.partitionOf(hit.visitorId), 'hits'), encodeHits([received]));
    sent.push(received);
    if (pause) await pause();
  }
  return sent;
}

/** Appends entries of several hits each (every hit of an entry must be of the entry's partition). */
export async function appendEntries(redis: RedisPort, keys: Keys, entries: ReadonlyArray<readonly Hit[]>): Promise<void> {
  const appends = entries.map((hits) => ({ key: keys.stream(keys.partitionOf((hits[0] as Hit).visitorId), 'hits'), data: encodeHits(hits) }));
  for (let i = 0; i < appends.length; i += 500) await redis.xaddMany(appends.slice(i, i + 500));
}

/** Groups hits into entries of at most `size` hits of one partition, keeping each visitor's hits together and in order. */
export function partitionEntries(keys: Keys, visits: ReadonlyArray<readonly Hit[]>, size: number): Hit[][] {
  const open = new Map<number, Hit[]>();
  const entries: Hit[][] = [];
  for (const visit of visits) {
    const first = visit[0];
    if (first === undefined) continue;
    const partition = keys.partitionOf(first.visitorId);
    const entry = open.get(partition) ?? [];
    entry.push(...visit);
    if (entry.length >= size) {
      entries.push(entry);
      open.delete(partition);
    } else open.set(partition, entry);
  }
  entries.push(...open.values());
  return entries;
}

export type LoggedFire = FiredRecord & { offset: string; partition: number };

export async function firedRecords(redis: RedisPort, keys: Keys): Promise<LoggedFire[]> {
  const all: LoggedFire[] = [];
  for (const partition of keys.allPartitions()) {
    for (const entry of await redis.xrange(keys.stream(partition, 'fired'))) all.push({ ...decodeFiredRecord(entry.data as Buffer), offset: entry.id, partition });
  }
  return all;
}

/** Every hit entry delivered to and acknowledged by the detect group, and no timer left to decide. */
export async function allDecided(redis: RedisPort, keys: Keys): Promise<boolean> {
  for (const partition of keys.allPartitions()) {
    const key = keys.stream(partition, 'hits');
    if ((await redis.xlen(key)) === 0) continue;
    const group = (await redis.xinfoGroups(key)).find((g) => g.name === detectGroup);
    if (group === undefined || group.pending > 0 || group.lag !== 0) return false;
  }
  for (const partition of keys.allPartitions()) if ((await redis.zcard(keys.timers(partition))) > 0) return false;
  return true;
}

/** Fired records counted per `visitorId|triggerName`. */
export function countFires(records: readonly FiredRecord[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const r of records) counts.set(`${r.visitorId}|${r.triggerName}`, (counts.get(`${r.visitorId}|${r.triggerName}`) ?? 0) + 1);
  return counts;
}

/** A visitor id of the given partition, derived from `base`. */
export function visitorInPartition(keys: Keys, partition: number, base: string): string {
  for (let i = 0; ; i++) if (keys.partitionOf(`${base}-${i}`) === partition) return `${base}-${i}`;
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

// The pipeline at a glance, read from Redis: per logical stream (summed over its partitions) and
// consumer group, the length, lag, pending count, oldest pending age and consumers; the
// dead-letter streams; the trigger timers (waiting, most overdue). The streams looked at are the
// pipeline's own plus those announced by running stages: never SCAN, which would walk every
// visitor key. Costs a few commands per partition and stream, sent concurrently.
import type { RedisPort } from '../../core/redis/client.js';
import type { Keys } from '../../core/redis/keys.js';
import { channelNames, outboxStream } from '../../model/message.js';

export interface GroupStats {
  stream: string;
  group: string;
  length: number;
  lag: number;
  pending: number;
  oldestPendingMs: number;
  consumers: number;
}

export interface PipelineStats {
  groups: GroupStats[];
  /** Dead-letter streams holding entries. */
  deadLetters: Array<{ stream: string; entries: number }>;
  /** The logical streams looked at. */
  streams: string[];
  timers: { waiting: number; overdueMs: number };
}

/** Streams every installation has, whether or not a stage announced them yet. */
export const pipelineStreams: readonly string[] = ['hits', 'fired', ...channelNames.map(outboxStream)];

/** Records streams read by stages, so that stats and gauges find them without scanning. */
export async function announceStreams(redis: RedisPort, keys: Keys, streams: Iterable<string>): Promise<void> {
  const at = String(Date.now());
  await Promise.all([...streams].map((stream) => redis.hset(keys.streamRegistry(), stream, at)));
}

export async function knownStreams(redis: RedisPort, keys: Keys): Promise<string[]> {
  const announced = Object.keys(await redis.hgetall(keys.streamRegistry()));
  return [...new Set([...pipelineStreams, ...announced])].sort();
}

interface PartitionRead {
  stream: string;
  length: number;
  dead: number;
  groups: Array<{ name: string; lag: number; pending: number; consumers: number; oldestPendingMs: number }>;
}

async function readPartition(redis: RedisPort, keys: Keys, partition: number, stream: string): Promise<PartitionRead> {
  const key = keys.stream(partition, stream);
  const [length, infos, dead] = await Promise.all([redis.xlen(key), redis.xinfoGroups(key), redis.xlen(keys.deadLetters(partition, stream))]);
  const groups = await Promise.all(
    infos.map(async (info) => ({
      name: info.name,
      lag: info.lag ?? 0,
      pending: info.pending,
      consumers: info.consumers,
      oldestPendingMs: info.pending > 0 ? ((await redis.oldestPending(key, info.name))?.idleMs ?? 0) : 0,
    })),
  );
  return { stream, length, dead, groups };
}

async function timerStats(redis: RedisPort, keys: Keys, now: number): Promise<PipelineStats['timers']> {
  const reads = await Promise.all(keys.allPartitions().map(async (p) => ({ waiting: await redis.zcard(keys.timers(p)), due: await redis.zrangeDue(keys.timers(p), now, 1) })));
  let overdueMs = 0;
  for (const read of reads) for (const { score } of read.due) overdueMs = Math.max(overdueMs, now - score);
  return { waiting: reads.reduce((sum, read) => sum + read.waiting, 0), overdueMs };
}

export async function pipelineStats(redis: RedisPort, keys: Keys, streams: readonly string[] = pipelineStreams, now = Date.now()): Promise<PipelineStats> {
  const reads = await Promise.all(keys.allPartitions().flatMap((p) => streams.map((stream) => readPartition(redis, keys, p, stream))));
  const groups = new Map<string, GroupStats>();
  const lengths = new Map<string, number>();
  const dead = new Map<string, number>();
  for (const read of reads) {
    lengths.set(read.stream, (lengths.get(read.stream) ?? 0) + read.length);
    dead.set(read.stream, (dead.get(read.stream) ?? 0) + read.dead);
    for (const info of read.groups) {
      const id = `${read.stream}\u0000${info.name}`;
      const stats = groups.get(id) ?? { stream: read.stream, group: info.name, length: 0, lag: 0, pending: 0, oldestPendingMs: 0, consumers: 0 };
      stats.lag += info.lag;
      stats.pending += info.pending;
      stats.consumers = Math.max(stats.consumers, info.consumers);
      stats.oldestPendingMs = Math.max(stats.oldestPendingMs, info.oldestPendingMs);
      groups.set(id, stats);
    }
  }
  for (const stats of groups.values()) stats.length = lengths.get(stats.stream) ?? 0;
  return {
    groups: [...groups.values()].sort((a, b) => a.stream.localeCompare(b.stream) || a.group.localeCompare(b.group)),
    deadLetters: [...dead].filter(([, entries]) => entries > 0).map(([stream, entries]) => ({ stream, entries })),
    streams: [...streams],
    timers: await timerStats(redis, keys, now),
  };
}

// The pipeline at a glance, read from Redis: per logical stream (summed over its partitions) and
// consumer group, the length, lag, pending count, oldest pending age and consumers; plus the
// dead-letter streams. Used by `rebound status`; costs a few commands per partition stream.
import type { RedisPort } from '../../core/redis/client.js';
import type { Keys } from '../../core/redis/keys.js';

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
  deadLetters: Array<{ stream: string; entries: number }>;
}

/** Logical name of a partition stream key: `rb:{p3}:out:email` → `out:email`. */
function logicalName(keys: Keys, key: string): string {
  return key.slice(key.indexOf('}:') + 2);
}

export async function pipelineStats(redis: RedisPort, keys: Keys): Promise<PipelineStats> {
  const streamKeys = await redis.scanKeys(`${keys.prefix}:{p*}:*`, 'stream');
  const groups = new Map<string, GroupStats>();
  const deadLetters = new Map<string, number>();
  for (const key of streamKeys) {
    const name = logicalName(keys, key);
    if (name.startsWith('dlq:')) {
      deadLetters.set(name.slice(4), (deadLetters.get(name.slice(4)) ?? 0) + (await redis.xlen(key)));
      continue;
    }
    const [length, infos] = await Promise.all([redis.xlen(key), redis.xinfoGroups(key)]);
    for (const info of infos) {
      const id = `${name}\u0000${info.name}`;
      const stats = groups.get(id) ?? { stream: name, group: info.name, length: 0, lag: 0, pending: 0, oldestPendingMs: 0, consumers: 0 };
      stats.length += length;
      stats.lag += info.lag ?? 0;
      stats.pending += info.pending;
      stats.consumers = Math.max(stats.consumers, info.consumers);
      if (info.pending > 0) {
        const oldest = await redis.oldestPending(key, info.name);
        stats.oldestPendingMs = Math.max(stats.oldestPendingMs, oldest?.idleMs ?? 0);
      }
      groups.set(id, stats);
    }
  }
  return {
    groups: [...groups.values()].sort((a, b) => a.stream.localeCompare(b.stream) || a.group.localeCompare(b.group)),
    deadLetters: [...deadLetters].map(([stream, entries]) => ({ stream, entries })),
  };
}

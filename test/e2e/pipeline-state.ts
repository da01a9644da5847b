// The state of an e2e installation the tests wait on or assert: whether the pipeline is drained
// (every stage's consumer group has read and acknowledged everything, no trigger timer and no
// delivery retry waiting — read from Redis, the same figures `rebound status` shows), and the
// admin API (dead letters, reports) called with the installation's token.
import type { RedisPort } from '../../src/core/redis/client.js';
import { Keys } from '../../src/core/redis/keys.js';
import { pipelineStats } from '../../src/stages/runtime/stream-stats.js';
import { adminToken, partitions } from './shop-setup.js';

const stageGroups = new Set(['detect', 'campaign', 'deliver']);

export interface PipelineReading {
  drained: boolean;
  /** What is still moving, for a readable timeout. */
  summary: string;
}

export async function readPipeline(redis: RedisPort, keys: Keys): Promise<PipelineReading> {
  const stats = await pipelineStats(redis, keys);
  const groups = stats.groups.filter((g) => stageGroups.has(g.group));
  const retries = await Promise.all(keys.allPartitions().flatMap((p) => ['email', 'sms'].map((channel) => redis.zcard(keys.deliveryRetries(p, channel)))));
  const waitingRetries = retries.reduce((a, b) => a + b, 0);
  const busy = groups.filter((g) => g.pending > 0 || g.lag > 0);
  const drained = busy.length === 0 && groups.length >= 4 && stats.timers.waiting === 0 && waitingRetries === 0;
  const summary = [...groups.map((g) => `${g.stream}/${g.group}: lag ${g.lag}, pending ${g.pending}`), `timers ${stats.timers.waiting}`, `retries ${waitingRetries}`].join('; ');
  return { drained, summary };
}

export const keysOf = (prefix: string): Keys => new Keys(prefix, partitions);

/** A JSON call to the admin API; throws on a non-2xx answer. */
export async function admin<T>(adminUrl: string, method: string, path: string, body?: unknown): Promise<T> {
  const response = await fetch(`${adminUrl}${path}`, {
    method,
    headers: { authorization: `Bearer ${adminToken}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    signal: AbortSignal.timeout(30_000),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${text}`);
  return JSON.parse(text) as T;
}

export interface DeadLetters {
  deadLetters: Array<{ stream: string; error: string; group: string }>;
  total: number;
}

export interface MessageList {
  items: Array<{ status: string; reason?: string; eventId: string; visitorId: string; channel?: string; profileId?: string; timestamps: { firedAt?: number } }>;
}

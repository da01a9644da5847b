// Test helpers for the runtime conformance suite: write numbered entries into the partitions
// of a stream and read back what came out, through the same Redis port the product uses.
import { randomBytes } from 'node:crypto';
import { decode, encode } from '../../src/core/codec.js';
import { metricsRegistry } from '../../src/core/metrics.js';
import { connectRedis, type RedisPort } from '../../src/core/redis/client.js';
import { Keys } from '../../src/core/redis/keys.js';

export interface Target {
  name: 'standalone' | 'cluster';
  env: Record<string, string>;
  redis: { url?: string; cluster?: string[] };
}

export function targets(redisUrl: string, clusterSeeds: string): Target[] {
  return [
    { name: 'standalone', env: { TEST_REDIS_URL: redisUrl }, redis: { url: redisUrl } },
    { name: 'cluster', env: { TEST_REDIS_CLUSTER: clusterSeeds }, redis: { cluster: clusterSeeds.split(',') } },
  ];
}

export const newPrefix = (): string => `t${randomBytes(4).toString('hex')}`;

export function connect(target: Target): Promise<RedisPort> {
  return connectRedis(target.redis, { connectTimeoutMs: 10_000, name: 'test' });
}

/** Appends entries {n} for n in [from, to) to `stream`, partitioned by n; `poison` marks some. */
export async function writeEntries(redis: RedisPort, keys: Keys, stream: string, from: number, to: number, poison: (n: number) => boolean = () => false): Promise<void> {
  for (let start = from; start < to; start += 5000) {
    const appends = [];
    for (let n = start; n < Math.min(to, start + 5000); n++) {
      appends.push({ key: keys.stream(keys.partitionOf(String(n)), stream), data: encode(poison(n) ? { n, poison: true } : { n }) });
    }
    await redis.xaddMany(appends);
  }
}

export async function streamLength(redis: RedisPort, keys: Keys, stream: string): Promise<number> {
  const lengths = await Promise.all(keys.allPartitions().map((p) => redis.xlen(keys.stream(p, stream))));
  return lengths.reduce((a, b) => a + b, 0);
}

/** Every `n` found in `stream`, with how many times it appears. */
export async function outputCounts(redis: RedisPort, keys: Keys, stream: string): Promise<Map<number, number>> {
  const counts = new Map<number, number>();
  for (const p of keys.allPartitions()) {
    for (const entry of await redis.xrange(keys.stream(p, stream))) {
      const { n } = decode<{ n: number }>(entry.data as Buffer);
      counts.set(n, (counts.get(n) ?? 0) + 1);
    }
  }
  return counts;
}

export function expectExactlyOnce(counts: Map<number, number>, total: number, skip: (n: number) => boolean = () => false): string[] {
  const problems: string[] = [];
  for (let n = 0; n < total; n++) {
    const count = counts.get(n) ?? 0;
    const expected = skip(n) ? 0 : 1;
    if (count !== expected) problems.push(`${n}: ${count}×`);
    if (problems.length > 10) break;
  }
  return problems;
}

/** The value of one series of a metric of this process's registry (NaN when absent). */
export async function metricValue(name: string, labels: Record<string, string>): Promise<number> {
  const samples = (await metricsRegistry.getMetricsAsJSON()).flatMap((m) => m.values.map((v) => ({ ...v, metricName: (v as { metricName?: string }).metricName ?? m.name })));
  const sample = samples.find((v) => v.metricName === name && Object.entries(labels).every(([k, want]) => String((v.labels as Record<string, unknown>)[k]) === want));
  return Number(sample?.value ?? NaN);
}

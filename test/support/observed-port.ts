// A RedisPort on an ioredis client of the test's own, set up like the product's (auto-pipelined;
// scripts written at once on a cluster), with a hook on every socket write to a master node and
// on every reply read: tests count round trips with it.
import { once } from 'node:events';
import { Cluster, Redis } from 'ioredis';
import { RedisPort } from '../../src/core/redis/client.js';
import { scripts } from '../../src/core/redis/scripts.js';
import type { Target } from '../stages/pipeline-helpers.js';

export interface SocketHooks {
  write(): void;
  reply?(): void;
}

/** The port, and how many master nodes it talks to. Close it with `redis.close()`. */
export async function observedPort(target: Target, hooks: SocketHooks): Promise<{ redis: RedisPort; nodes: number }> {
  const seeds = (target.redis.cluster ?? []).map((seed) => ({ host: seed.split(':')[0] as string, port: Number(seed.split(':')[1]) }));
  const client =
    target.name === 'standalone'
      ? new Redis(target.redis.url as string, { enableAutoPipelining: true })
      : new Cluster(seeds, { enableAutoPipelining: true, autoPipeliningIgnoredCommands: Object.keys(scripts) });
  await once(client, 'ready');
  const redis = new RedisPort(client);
  await redis.ping();
  const nodes = client instanceof Cluster ? client.nodes('master') : [client];
  for (const node of nodes) {
    await node.ping(); // connected, so that its stream exists
    const stream = node.stream as unknown as { write: (...args: unknown[]) => boolean; on(event: 'data', listener: () => void): void };
    const write = stream.write.bind(stream);
    stream.write = (...args: unknown[]) => {
      hooks.write();
      return write(...args);
    };
    if (hooks.reply) stream.on('data', hooks.reply);
  }
  return { redis, nodes: nodes.length };
}

// What every Rebound process does before its roles start: connect to Redis (spawning the
// embedded server when none is configured), check the partition count, name the consumer, and
// turn SIGTERM/SIGINT into an ordered drain that ends the process with the right exit code.
import { hostname } from 'node:os';
import type { ReboundConfig } from './config-schema.js';
import { ReboundError } from './errors.js';
import { Lifecycle } from './lifecycle.js';
import type { Logger } from './log.js';
import { connectRedis, type RedisPort } from './redis/client.js';
import { startEmbeddedRedis } from './redis/embedded.js';
import { Keys } from './redis/keys.js';

export interface Runtime {
  config: Readonly<ReboundConfig>;
  redis: RedisPort;
  keys: Keys;
  consumer: string;
  logger: Logger;
  lifecycle: Lifecycle;
}

export async function bootstrap(config: Readonly<ReboundConfig>, logger: Logger, lifecycle = new Lifecycle()): Promise<Runtime> {
  let target: { url?: string | null; cluster?: readonly string[] } = config.redis;
  if (!config.redis.url && config.redis.cluster.length === 0) {
    const embedded = await startEmbeddedRedis({ dataDir: config.dataDir, ...config.redis.embedded });
    lifecycle.onShutdown('embedded redis-server', () => embedded.stop());
    logger.info({ url: embedded.url, dir: embedded.dir, redisPid: embedded.pid }, 'embedded redis-server started');
    target = { url: embedded.url };
  }
  const redis = await connectRedis(target, { connectTimeoutMs: config.redis.connectTimeout, name: 'rebound' });
  lifecycle.onShutdown('redis connection', () => redis.close());
  const keys = new Keys(config.prefix, config.partitions);
  await checkPartitions(redis, keys);
  const consumer = config.instance ?? `${hostname()}-${process.pid}`;
  return { config, redis, keys, consumer, logger, lifecycle };
}

/** The partition count is fixed for an installation: changing it would move visitors. */
async function checkPartitions(redis: RedisPort, keys: Keys): Promise<void> {
  const stored = await redis.setIfAbsent(`${keys.meta()}:partitions`, String(keys.partitions));
  if (Number(stored) !== keys.partitions) {
    throw new ReboundError('CONFIG_INVALID', `partitions is ${keys.partitions} but this Redis (prefix "${keys.prefix}") was set up with ${stored}; keep ${stored} or use another prefix`, { path: 'partitions' });
  }
}

/**
 * SIGTERM or SIGINT: run the lifecycle's steps within `timeoutMs`, exit 0 when all went well and
 * 1 otherwise. A second signal exits at once with 1.
 */
export function exitOnSignals(lifecycle: Lifecycle, timeoutMs: number, logger: Logger): void {
  let signalled = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (signalled) process.exit(1);
    signalled = true;
    logger.info({ signal }, 'draining');
    void lifecycle.shutdown(timeoutMs).then((errors) => {
      for (const err of errors) logger.error({ err: err.message }, 'shutdown step failed');
      logger.info({ errors: errors.length }, 'stopped');
      logger.flush?.();
      process.exit(errors.length === 0 ? 0 : 1);
    });
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}

// How CLI commands other than `start` reach Redis: the configured server or cluster, or the
// embedded server of a `rebound start` running on the same data directory.
import type { ReboundConfig } from '../core/config-schema.js';
import { ReboundError } from '../core/errors.js';
import { connectRedis, type RedisPort } from '../core/redis/client.js';
import { findEmbeddedRedis } from '../core/redis/embedded.js';

export async function connectForCommand(config: Readonly<ReboundConfig>): Promise<RedisPort> {
  const { url, cluster, connectTimeout } = config.redis;
  if (url || cluster.length > 0) return connectRedis({ url, cluster }, { connectTimeoutMs: connectTimeout, name: 'rebound-cli' });
  const embedded = findEmbeddedRedis(config.dataDir);
  if (!embedded) {
    throw new ReboundError('REDIS_UNAVAILABLE', `no Redis configured and no running embedded server in ${config.dataDir}; start Rebound (npm start) or set REBOUND_REDIS_URL`);
  }
  return connectRedis({ url: embedded }, { connectTimeoutMs: connectTimeout, name: 'rebound-cli' });
}

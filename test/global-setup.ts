// Vitest globalSetup: starts one standalone redis and one 3-node cluster shared by all test files.
import type { TestProject } from 'vitest/node';
import { startCluster, startRedis } from './support/redis-server.js';

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const [standalone, cluster] = await Promise.all([startRedis(), startCluster()]);
  project.provide('redisUrl', standalone.url);
  project.provide('redisClusterSeeds', cluster.seeds);
  return async () => {
    await Promise.all([standalone.stop(), cluster.stop()]);
  };
}

// Names of the clients connected to Redis (CLIENT LIST), for the tests of the roles' own
// connections (test/campaign/connection.test.ts, test/detect/connection.test.ts).
import { Cluster, Redis } from 'ioredis';

export interface RedisTarget {
  url?: string;
  cluster?: string[];
}

/** Names of the clients connected to the single node, or to every master of the cluster. */
export async function clientNames(target: RedisTarget): Promise<string[]> {
  const nodes = target.url !== undefined ? [new Redis(target.url)] : new Cluster(target.cluster!.map((seed) => ({ host: seed.split(':')[0], port: Number(seed.split(':')[1]) })));
  try {
    const servers = nodes instanceof Cluster ? (await nodes.info(), nodes.nodes('master')) : nodes;
    const lists = await Promise.all(servers.map((node) => node.client('LIST') as Promise<string>));
    return lists.flatMap((list) => list.split('\n').map((line) => /(?:^| )name=(\S*)/.exec(line)?.[1] ?? '')).filter((name) => name !== '');
  } finally {
    if (nodes instanceof Cluster) nodes.disconnect();
    else for (const node of nodes) node.disconnect();
  }
}

/** Whether no client named `name` is connected any more: QUIT is answered before the server drops the client, so it looks again for a little while. */
export async function goneFrom(target: RedisTarget, name: string): Promise<boolean> {
  for (let attempt = 0; attempt < 50; attempt++) {
    if (!(await clientNames(target)).includes(name)) return true;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return false;
}

// Observes or holds the Lua script calls of a role, on the runtime's connection and on the
// connections the role opens of its own (RedisPort.duplicate: detect and campaign do).
import type { RedisPort } from '../../src/core/redis/client.js';
import type { ScriptName } from '../../src/core/redis/scripts.js';

/** Runs `before` ahead of every script call made through `redis` or a port duplicated from it. */
export function hookScripts(redis: RedisPort, before: (name: ScriptName, keys: readonly string[]) => void | Promise<void>): void {
  const hook = (port: RedisPort): RedisPort => {
    const script = port.script.bind(port);
    port.script = async (name, keys, args) => {
      await before(name, keys);
      return script(name, keys, args);
    };
    return port;
  };
  const duplicate = redis.duplicate.bind(redis);
  redis.duplicate = async (name, options) => hook(await duplicate(name, options));
  hook(redis);
}

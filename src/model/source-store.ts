// Sources in Redis: a hash of JSON documents plus the definitions version counter that every
// process polls. The hash is written before the counter moves, so a reader that sees the new
// version reads the new hash. Used by tests and tooling now, by the admin API later.
import type { RedisPort } from '../core/redis/client.js';
import type { Keys } from '../core/redis/keys.js';
import { parseSource, type Source, type SourceDocument } from './source.js';

/** Validates and stores a source (an upsert); returns the validated form. */
export async function putSource(redis: RedisPort, keys: Keys, document: SourceDocument): Promise<Source> {
  const source = parseSource(document, `source ${String(document.id)}`);
  await redis.hset(keys.definitions('sources'), source.id, JSON.stringify(document));
  await redis.incr(keys.definitionsVersion());
  return source;
}

export async function deleteSource(redis: RedisPort, keys: Keys, id: string): Promise<boolean> {
  const existed = await redis.hdel(keys.definitions('sources'), id);
  if (existed) await redis.incr(keys.definitionsVersion());
  return existed;
}

/** Every stored source; a stored document that no longer validates is reported, not returned. */
export async function loadSources(redis: RedisPort, keys: Keys): Promise<{ sources: Source[]; invalid: Array<{ id: string; error: string }> }> {
  const stored = await redis.hgetall(keys.definitions('sources'));
  const sources: Source[] = [];
  const invalid: Array<{ id: string; error: string }> = [];
  for (const [id, json] of Object.entries(stored)) {
    try {
      sources.push(parseSource(JSON.parse(json), `source ${id}`));
    } catch (err) {
      invalid.push({ id, error: (err as Error).message });
    }
  }
  return { sources, invalid };
}

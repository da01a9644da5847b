// Resources in Redis. Definitions (`kind: Resource`) are documents in the hash
// `keys.definitions('resources')`, with an INCR of the definitions version on every change (like
// sources and triggers). Rows are one JSON string each, `keys.resourceRow(name, key)`; every row
// write announces the changed keys on the invalidation channel, one message per batch.
import { ReboundError } from '../core/errors.js';
import type { RedisPort } from '../core/redis/client.js';
import type { Keys } from '../core/redis/keys.js';
import { publishInvalidation } from './cache-invalidation.js';
import { isPlainObject } from './profile-values.js';
import { catalogResource, isResourceName, parseResource, type ResourceDefinition, type ResourceRow } from './resource.js';

const definitionsKey = (keys: Keys): string => keys.definitions('resources');

/** Validates and stores a definition; `changed` is false for an identical re-put (no version bump). */
export async function putResource(redis: RedisPort, keys: Keys, document: unknown): Promise<{ resource: ResourceDefinition; changed: boolean }> {
  const resource = parseResource(document, `resource ${String((document as { id?: unknown } | null)?.id)}`);
  const json = JSON.stringify(resource);
  if ((await redis.hget(definitionsKey(keys), resource.id)) === json) return { resource, changed: false };
  await redis.hset(definitionsKey(keys), resource.id, json);
  await redis.incr(keys.definitionsVersion());
  return { resource, changed: true };
}

/** A definition by name (`catalog` is built in), or undefined; a stored one that no longer validates counts as absent. */
export async function getResource(redis: RedisPort, keys: Keys, name: string): Promise<ResourceDefinition | undefined> {
  if (!isResourceName(name)) return undefined;
  const json = await redis.hget(definitionsKey(keys), name);
  if (json === null) return name === catalogResource.id ? catalogResource : undefined;
  try {
    return parseResource(JSON.parse(json), `stored resource ${name}`);
  } catch {
    return undefined;
  }
}

/** Like getResource, but a missing definition is RESOURCE_UNKNOWN. */
export async function requireResource(redis: RedisPort, keys: Keys, name: string): Promise<ResourceDefinition> {
  const resource = await getResource(redis, keys, name);
  if (resource !== undefined) return resource;
  throw new ReboundError('RESOURCE_UNKNOWN', `resource "${name}" has no kind: Resource definition (only catalog is built in); apply one first`, { path: name });
}

/** Every definition, the built-in catalog included. */
export async function listResources(redis: RedisPort, keys: Keys): Promise<ResourceDefinition[]> {
  const stored = await redis.hgetall(definitionsKey(keys));
  const found = new Map<string, ResourceDefinition>([[catalogResource.id, catalogResource]]);
  for (const [name, json] of Object.entries(stored)) {
    try {
      found.set(name, parseResource(JSON.parse(json), `stored resource ${name}`));
    } catch {
      // a definition that no longer validates is not listed (getResource treats it as absent too)
    }
  }
  return [...found.values()].sort((a, b) => a.id.localeCompare(b.id));
}

/** Deletes a definition (its rows stay until deleted or re-declared); resolves true when it existed. */
export async function deleteResource(redis: RedisPort, keys: Keys, name: string): Promise<boolean> {
  const existed = await redis.hdel(definitionsKey(keys), name);
  if (existed) await redis.incr(keys.definitionsVersion());
  return existed;
}

/** Stores validated rows of one table (a later row of the same key wins) and announces them. */
export async function upsertRows(redis: RedisPort, keys: Keys, name: string, rows: ReadonlyArray<{ key: string; row: ResourceRow }>): Promise<void> {
  const latest = new Map(rows.map(({ key, row }) => [key, row]));
  if (latest.size === 0) return;
  await Promise.all([...latest].map(([key, row]) => redis.set(keys.resourceRow(name, key), JSON.stringify(row))));
  await publishInvalidation(redis, keys, { resources: { [name]: [...latest.keys()] } });
}

/** Rows by key in one round trip; missing (or unreadable) rows are absent. */
export async function getRows(redis: RedisPort, keys: Keys, name: string, rowKeys: readonly string[]): Promise<Map<string, ResourceRow>> {
  const unique = [...new Set(rowKeys)];
  const texts = await redis.mget(unique.map((key) => keys.resourceRow(name, key)));
  const found = new Map<string, ResourceRow>();
  unique.forEach((key, i) => {
    const row = readRow(texts[i] ?? null);
    if (row !== undefined) found.set(key, row);
  });
  return found;
}

/** Deletes rows by key; resolves with how many existed. */
export async function deleteRows(redis: RedisPort, keys: Keys, name: string, rowKeys: readonly string[]): Promise<number> {
  const unique = [...new Set(rowKeys)];
  if (unique.length === 0) return 0;
  const existed = await Promise.all(unique.map((key) => redis.del(keys.resourceRow(name, key))));
  await publishInvalidation(redis, keys, { resources: { [name]: unique } });
  return existed.filter(Boolean).length;
}

function readRow(json: string | null): ResourceRow | undefined {
  if (json === null) return undefined;
  try {
    const value: unknown = JSON.parse(json);
    return isPlainObject(value) ? value : undefined;
  } catch {
    return undefined;
  }
}

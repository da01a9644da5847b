// The datamart as the campaign stage and the admin API read it: profiles by id, identity lookups
// (indexed field value → profile ids), resource rows and the suppression list, behind three
// bounded LRU caches with negative caching. Each call loads its cache misses in one pipelined
// round trip. Every process listens on the invalidation channel and drops what a write names;
// after a reconnect of that listener it drops everything, as messages may have been missed.
import type { ReboundConfig } from '../core/config-schema.js';
import type { Logger } from '../core/log.js';
import type { RedisPort, Subscription } from '../core/redis/client.js';
import type { Keys } from '../core/redis/keys.js';
import { BatchCache } from './cache-batch.js';
import { parseInvalidation, type Invalidation } from './cache-invalidation.js';
import type { Profile } from './profile.js';
import { indexKey, profileMatches, ProfileStore, resolveLookup } from './profile-store.js';
import { sha256Hex } from './profile-values.js';
import { getRows } from './resource-store.js';
import type { ResourceRow } from './resource.js';
import { suppressedAmong } from './suppressions.js';

export type DatamartConfig = Pick<ReboundConfig['campaign'], 'profileCache' | 'resourceCache' | 'identityCache' | 'indexedFields'>;

export interface IdentityQuery {
  field: string;
  value: string;
  /** The value is the sha256 hex of the normalised value. */
  hashed?: boolean;
}

export interface DatamartOptions {
  /** Clock of the caches' TTLs (tests). */
  clock?: { now(): number };
}

const SEP = '\u0000';
const identityKey = (field: string, hashed: boolean, value: string): string => [field, hashed ? 'h' : 'p', value].join(SEP);
const rowKey = (name: string, key: string): string => `${name}${SEP}${key}`;

export class Datamart {
  readonly store: ProfileStore;
  readonly profiles: { getMany(ids: readonly string[]): Promise<Map<string, Profile>> };
  readonly identity: {
    /** Verified ids of the profiles whose indexed `field` is `value` (its sha256 hex when hashed). */
    lookup(field: string, value: string, hashed?: boolean): Promise<string[]>;
    /** The same for many queries at once (one round trip for the misses), in order. */
    lookupMany(queries: readonly IdentityQuery[]): Promise<string[][]>;
  };
  readonly resources: { getMany(name: string, keys: readonly string[]): Promise<Map<string, ResourceRow>> };
  readonly #redis: RedisPort;
  readonly #keys: Keys;
  readonly #config: DatamartConfig;
  readonly #logger: Logger;
  readonly #profileCache: BatchCache<Profile>;
  readonly #identityCache: BatchCache<string[]>;
  readonly #resourceCache: BatchCache<ResourceRow>;
  #subscription: Subscription | undefined;
  #subscribedOnce = false;

  constructor(redis: RedisPort, keys: Keys, config: DatamartConfig, logger: Logger, options: DatamartOptions = {}) {
    this.#redis = redis;
    this.#keys = keys;
    this.#config = config;
    this.#logger = logger;
    this.store = new ProfileStore(redis, keys, config.indexedFields);
    const settings = (name: string, c: DatamartConfig['profileCache']) => ({ name, max: c.max, ttlMs: c.ttl, negativeTtlMs: c.negativeTtl, ...options });
    this.#profileCache = new BatchCache(settings('profiles', config.profileCache), (ids) => this.store.getMany(ids));
    this.#identityCache = new BatchCache(settings('identity', config.identityCache), (ks) => this.#loadIdentities(ks));
    this.#resourceCache = new BatchCache(settings('resources', config.resourceCache), (ks) => this.#loadRows(ks));
    this.profiles = { getMany: (ids) => this.#profileCache.getMany(ids) };
    this.identity = {
      lookup: async (field, value, hashed = false) => (await this.#lookupMany([{ field, value, hashed }]))[0] ?? [],
      lookupMany: (queries) => this.#lookupMany(queries),
    };
    this.resources = { getMany: (name, keys) => this.#resourceRows(name, keys) };
  }

  /** The given addresses and numbers that are on the suppression list (not cached: one round trip). */
  suppressed(values: readonly string[]): Promise<Set<string>> {
    return suppressedAmong(this.#redis, this.#keys, values);
  }

  /** Starts listening for invalidations (without it, entries only expire by TTL). */
  async start(): Promise<void> {
    this.#subscription ??= await this.#redis.subscribe(
      this.#keys.invalidations(),
      (message) => this.#onMessage(message),
      () => this.#onSubscribed(),
    );
  }

  async stop(): Promise<void> {
    const subscription = this.#subscription;
    this.#subscription = undefined;
    await subscription?.close();
    this.clear();
  }

  /** Drops every cached entry. */
  clear(): void {
    this.#profileCache.clear();
    this.#identityCache.clear();
    this.#resourceCache.clear();
  }

  /** Drops what one write named. */
  invalidate(change: Invalidation): void {
    for (const id of change.profiles ?? []) this.#profileCache.delete(id);
    for (const [field, value] of change.identities ?? []) {
      this.#identityCache.delete(identityKey(field, false, value));
      this.#identityCache.delete(identityKey(field, true, sha256Hex(value)));
    }
    for (const [name, keys] of Object.entries(change.resources ?? {})) for (const key of keys) this.#resourceCache.delete(rowKey(name, key));
  }

  #onMessage(message: string): void {
    const change = parseInvalidation(message);
    if (change !== undefined) return this.invalidate(change);
    this.#logger.warn('unreadable datamart invalidation message; dropping every cached entry');
    this.clear();
  }

  #onSubscribed(): void {
    if (this.#subscribedOnce) this.#logger.info('datamart invalidation listener reconnected; dropping every cached entry');
    this.#subscribedOnce = true;
    this.clear();
  }

  async #lookupMany(queries: readonly IdentityQuery[]): Promise<string[][]> {
    const { indexedFields } = this.#config;
    const resolved = queries.map(({ field, value, hashed = false }) => {
      if (field === 'id') return hashed ? undefined : { id: value };
      const lookup = resolveLookup(this.#keys, indexedFields, field, value, hashed);
      return lookup === undefined ? undefined : { key: identityKey(field, hashed, lookup.value) };
    });
    const ids = resolved.flatMap((r) => (r !== undefined && 'id' in r ? [r.id] : []));
    const cacheKeys = resolved.flatMap((r) => (r !== undefined && 'key' in r ? [r.key] : []));
    const [profiles, identities] = await Promise.all([this.#profileCache.getMany(ids), this.#identityCache.getMany(cacheKeys)]);
    return resolved.map((r) => {
      if (r === undefined) return [];
      if ('id' in r) return profiles.has(r.id) ? [r.id] : [];
      return identities.get(r.key) ?? [];
    });
  }

  /** Identity cache loader: SMEMBERS of every key at once, then the candidates verified against their profiles. */
  async #loadIdentities(cacheKeys: string[]): Promise<Map<string, string[]>> {
    const queries = cacheKeys.map((key) => {
      const [field = '', mode, value = ''] = key.split(SEP);
      return { key, field, value, hashed: mode === 'h' };
    });
    const members = await Promise.all(queries.map((q) => this.#redis.smembers(indexKey(this.#keys, q.field, q.value, q.hashed))));
    const profiles = await this.#profileCache.getMany([...new Set(members.flat())]);
    const found = new Map<string, string[]>();
    queries.forEach((q, i) => {
      const verified = (members[i] ?? []).filter((id) => {
        const profile = profiles.get(id);
        return profile !== undefined && profileMatches(profile, q.field, q.value, q.hashed);
      });
      if (verified.length > 0) found.set(q.key, verified.sort());
    });
    return found;
  }

  async #resourceRows(name: string, keys: readonly string[]): Promise<Map<string, ResourceRow>> {
    const cached = await this.#resourceCache.getMany(keys.map((key) => rowKey(name, key)));
    const rows = new Map<string, ResourceRow>();
    for (const key of keys) {
      const row = cached.get(rowKey(name, key));
      if (row !== undefined) rows.set(key, row);
    }
    return rows;
  }

  /** Resource cache loader: the rows of every table asked for, in one round trip. */
  async #loadRows(cacheKeys: string[]): Promise<Map<string, ResourceRow>> {
    const byName = new Map<string, string[]>();
    for (const cacheKey of cacheKeys) {
      const at = cacheKey.indexOf(SEP);
      const name = cacheKey.slice(0, at);
      const keys = byName.get(name) ?? [];
      keys.push(cacheKey.slice(at + 1));
      byName.set(name, keys);
    }
    const tables = await Promise.all([...byName].map(async ([name, keys]) => [name, await getRows(this.#redis, this.#keys, name, keys)] as const));
    const found = new Map<string, ResourceRow>();
    for (const [name, rows] of tables) for (const [key, row] of rows) found.set(rowKey(name, key), row);
    return found;
  }
}

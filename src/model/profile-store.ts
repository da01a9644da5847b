// Profiles in Redis: one JSON string per profile (`keys.profile(id)`) and, per indexed field
// (`campaign.indexedFields`), two sets of profile ids: by the normalised value and by its sha256
// hex (sites often declare hashed ids). A profile and its index keys live on different cluster
// slots, so no write is atomic across them. Instead the writes are ordered so that a crash leaves
// at worst an index entry too many, and every lookup verifies the profile it finds:
//   1. SADD the new values' entries   2. SET the profiles   3. SREM the entries of values gone
//   4. read the profiles back and SADD their current values again.
// Step 4 repairs a concurrent writer's step 3 removing a value this writer has just set.
import type { RedisPort } from '../core/redis/client.js';
import type { Keys } from '../core/redis/keys.js';
import { publishInvalidation } from './cache-invalidation.js';
import { indexValue, type Profile } from './profile.js';
import { isPlainObject, normalizeHash, sha256Hex } from './profile-values.js';

/** An indexed value of a profile, in both its forms. */
export interface IndexedValue {
  field: string;
  value: string;
  hash: string;
}

export interface LookupOptions {
  /** The value is the sha256 hex of the normalised value (declared ids hashed by the site). */
  hashed?: boolean;
}

/** The index set holding the ids of profiles whose `field` has `value` (or its hash). */
export function indexKey(keys: Keys, field: string, value: string, hashed: boolean): string {
  return hashed ? keys.profileIndex(`${field}#sha256`, value) : keys.profileIndex(field, value);
}

export function indexedValues(profile: Profile, fields: readonly string[]): IndexedValue[] {
  const values: IndexedValue[] = [];
  for (const field of fields) {
    const value = indexValue(field, profile[field]);
    if (value !== undefined) values.push({ field, value, hash: sha256Hex(value) });
  }
  return values;
}

/**
 * What a lookup asks for, normalised: the index key to read and the hash naming it in caches;
 * undefined when the value cannot match anything (not indexed, not an address, not 64 hex digits).
 */
export function resolveLookup(keys: Keys, indexedFields: readonly string[], field: string, value: string, hashed: boolean): { key: string; hash: string; value: string } | undefined {
  if (!indexedFields.includes(field)) return undefined;
  const normalised = hashed ? normalizeHash(value) : indexValue(field, value);
  if (normalised === undefined) return undefined;
  return { key: indexKey(keys, field, normalised, hashed), hash: hashed ? normalised : sha256Hex(normalised), value: normalised };
}

/** True when the profile (still) has the value a lookup found it by. */
export function profileMatches(profile: Profile, field: string, normalisedValue: string, hashed: boolean): boolean {
  const value = indexValue(field, profile[field]);
  return value !== undefined && (hashed ? sha256Hex(value) === normalisedValue : value === normalisedValue);
}

/** A stored profile, or undefined when the text is not one (written by something else). */
export function readProfile(json: string | null): Profile | undefined {
  if (json === null) return undefined;
  try {
    const value: unknown = JSON.parse(json);
    return isPlainObject(value) && typeof value.id === 'string' ? (value as Profile) : undefined;
  } catch {
    return undefined;
  }
}

const entryKey = (v: IndexedValue): string => `${v.field}\u0000${v.value}`;
const identityOf = (v: IndexedValue): [string, string] => [v.field, v.value];

export class ProfileStore {
  readonly #redis: RedisPort;
  readonly #keys: Keys;
  readonly #fields: readonly string[];

  constructor(redis: RedisPort, keys: Keys, indexedFields: readonly string[]) {
    this.#redis = redis;
    this.#keys = keys;
    this.#fields = indexedFields;
  }

  async get(id: string): Promise<Profile | undefined> {
    return readProfile(await this.#redis.get(this.#keys.profile(id)));
  }

  /** Profiles by id in one round trip (one MGET on a single node, GETs auto-pipelined on a cluster); missing ids are absent. */
  async getMany(ids: readonly string[]): Promise<Map<string, Profile>> {
    const unique = [...new Set(ids)];
    const texts = await this.#redis.mget(unique.map((id) => this.#keys.profile(id)));
    const found = new Map<string, Profile>();
    unique.forEach((id, i) => {
      const profile = readProfile(texts[i] ?? null);
      if (profile !== undefined) found.set(id, profile);
    });
    return found;
  }

  /** Stores validated profiles (a later one of the same id wins), their indexes, then announces them. */
  async upsert(profiles: readonly Profile[]): Promise<void> {
    const latest = new Map(profiles.map((p) => [p.id, p]));
    if (latest.size === 0) return;
    const previous = await this.getMany([...latest.keys()]);
    const added: Array<[string, IndexedValue]> = [];
    const removed: Array<[string, IndexedValue]> = [];
    for (const [id, profile] of latest) {
      const before = new Map(indexedValues(previous.get(id) ?? { id }, this.#fields).map((v) => [entryKey(v), v]));
      const after = new Map(indexedValues(profile, this.#fields).map((v) => [entryKey(v), v]));
      for (const [key, v] of after) if (!before.has(key)) added.push([id, v]);
      for (const [key, v] of before) if (!after.has(key)) removed.push([id, v]);
    }
    await this.#index(added);
    await Promise.all([...latest.values()].map((p) => this.#redis.set(this.#keys.profile(p.id), JSON.stringify(p))));
    await this.#unindex(removed);
    await this.#reindex([...latest.keys()]);
    await publishInvalidation(this.#redis, this.#keys, { profiles: [...latest.keys()], identities: [...added, ...removed].map(([, v]) => identityOf(v)) });
  }

  /** Deletes profiles and their index entries; resolves with how many existed. */
  async delete(ids: readonly string[]): Promise<number> {
    const unique = [...new Set(ids)];
    if (unique.length === 0) return 0;
    const previous = await this.getMany(unique);
    const existed = await Promise.all(unique.map((id) => this.#redis.del(this.#keys.profile(id))));
    const removed = [...previous.values()].flatMap((p) => indexedValues(p, this.#fields).map((v): [string, IndexedValue] => [p.id, v]));
    await this.#unindex(removed);
    await this.#reindex(unique);
    await publishInvalidation(this.#redis, this.#keys, { profiles: unique, identities: removed.map(([, v]) => identityOf(v)) });
    return existed.filter(Boolean).length;
  }

  /** Ids of the profiles whose `field` is `value` (or whose sha256 is, when hashed), verified. */
  async lookupProfiles(field: string, value: string, options: LookupOptions = {}): Promise<string[]> {
    const hashed = options.hashed === true;
    if (field === 'id') return hashed || (await this.get(value)) === undefined ? [] : [value];
    const lookup = resolveLookup(this.#keys, this.#fields, field, value, hashed);
    if (lookup === undefined) return [];
    const candidates = await this.#redis.smembers(lookup.key);
    const profiles = await this.getMany(candidates);
    return [...profiles.values()].filter((p) => profileMatches(p, field, lookup.value, hashed)).map((p) => p.id).sort();
  }

  /** SADD per index key, both forms, all in one round trip. */
  async #index(entries: ReadonlyArray<[string, IndexedValue]>): Promise<void> {
    await this.#perKey(entries, (key, ids) => this.#redis.sadd(key, ids));
  }

  async #unindex(entries: ReadonlyArray<[string, IndexedValue]>): Promise<void> {
    await this.#perKey(entries, (key, ids) => this.#redis.srem(key, ids));
  }

  /** Step 4: the current values of these profiles are indexed, whatever a concurrent writer removed. */
  async #reindex(ids: readonly string[]): Promise<void> {
    const current = await this.getMany(ids);
    await this.#index([...current.values()].flatMap((p) => indexedValues(p, this.#fields).map((v): [string, IndexedValue] => [p.id, v])));
  }

  async #perKey(entries: ReadonlyArray<[string, IndexedValue]>, apply: (key: string, ids: string[]) => Promise<number>): Promise<void> {
    const byKey = new Map<string, string[]>();
    for (const [id, v] of entries) {
      for (const key of [indexKey(this.#keys, v.field, v.value, false), indexKey(this.#keys, v.field, v.hash, true)]) {
        const ids = byKey.get(key) ?? [];
        ids.push(id);
        byKey.set(key, ids);
      }
    }
    await Promise.all([...byKey].map(([key, ids]) => apply(key, ids)));
  }
}

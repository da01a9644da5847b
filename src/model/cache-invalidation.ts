// The message every datamart write publishes on `keys.invalidations()`, so that each process's
// LRU caches drop what changed (SPEC §6.2: an update is visible everywhere within a second).
// One message per write batch (an import chunk), naming the keys: profile ids, identity index
// entries as `[field, normalised value]` (listeners derive the sha256 form), resource rows by table.
import type { RedisPort } from '../core/redis/client.js';
import type { Keys } from '../core/redis/keys.js';
import { isPlainObject } from './profile-values.js';

export interface Invalidation {
  profiles?: string[];
  /** `[field, normalised value]` of index entries that gained or lost ids (both forms, plain and sha256). */
  identities?: Array<[string, string]>;
  /** Row keys by resource name. */
  resources?: Record<string, string[]>;
  /** How many suppression-list entries changed. */
  suppressions?: number;
}

function isEmpty(change: Invalidation): boolean {
  return !change.profiles?.length && !change.identities?.length && Object.keys(change.resources ?? {}).length === 0 && !change.suppressions;
}

/** Publishes one message for a batch of writes; nothing when nothing changed. */
export async function publishInvalidation(redis: RedisPort, keys: Keys, change: Invalidation): Promise<void> {
  if (!isEmpty(change)) await redis.publish(keys.invalidations(), JSON.stringify(change));
}

const strings = (value: unknown): value is string[] => Array.isArray(value) && value.every((v) => typeof v === 'string');
const pairs = (value: unknown): value is Array<[string, string]> => Array.isArray(value) && value.every((v) => strings(v) && v.length === 2);

/** The message as sent, or undefined when it is not one (then a listener drops everything). */
export function parseInvalidation(text: string): Invalidation | undefined {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!isPlainObject(raw)) return undefined;
  const { profiles, identities, resources, suppressions } = raw;
  if (profiles !== undefined && !strings(profiles)) return undefined;
  if (identities !== undefined && !pairs(identities)) return undefined;
  if (resources !== undefined && !(isPlainObject(resources) && Object.values(resources).every(strings))) return undefined;
  if (suppressions !== undefined && typeof suppressions !== 'number') return undefined;
  return raw as Invalidation;
}

// The global suppression list (SPEC §6.4): email addresses and phone numbers that are never sent
// to, whatever the event's targeting. One Redis set of normalised values (the same forms as
// profiles use); a change is all-or-nothing per call and announced on the invalidation channel.
import { ReboundError } from '../core/errors.js';
import type { RedisPort } from '../core/redis/client.js';
import type { Keys } from '../core/redis/keys.js';
import { publishInvalidation } from './cache-invalidation.js';
import { normalizeContact } from './profile-values.js';

/** Normalised forms, in order; SUPPRESSION_INVALID (with the index) when any value is neither an address nor a number. */
export function normalizeSuppressions(values: readonly unknown[]): string[] {
  return values.map((value, index) => {
    const normalised = typeof value === 'string' ? normalizeContact(value) : undefined;
    if (normalised === undefined) {
      throw new ReboundError('SUPPRESSION_INVALID', `entry ${index} is neither an email address nor a phone number`, { index, path: `${index}` });
    }
    return normalised;
  });
}

/** Adds entries; resolves with how many were new. */
export async function addSuppressions(redis: RedisPort, keys: Keys, values: readonly unknown[]): Promise<number> {
  const normalised = [...new Set(normalizeSuppressions(values))];
  const added = await redis.sadd(keys.suppressions(), normalised);
  await publishInvalidation(redis, keys, { suppressions: added });
  return added;
}

/** Removes entries; resolves with how many were there. */
export async function removeSuppressions(redis: RedisPort, keys: Keys, values: readonly unknown[]): Promise<number> {
  const normalised = [...new Set(normalizeSuppressions(values))];
  const removed = await redis.srem(keys.suppressions(), normalised);
  await publishInvalidation(redis, keys, { suppressions: removed });
  return removed;
}

/**
 * The given values that are suppressed (as given, so callers test `has(to)`), in one round trip.
 * A value that is neither an address nor a number cannot be on the list.
 */
export async function suppressedAmong(redis: RedisPort, keys: Keys, values: readonly string[]): Promise<Set<string>> {
  const candidates = values.map((value) => ({ value, normalised: normalizeContact(value) })).filter((c): c is { value: string; normalised: string } => c.normalised !== undefined);
  const flags = await redis.smismember(keys.suppressions(), candidates.map((c) => c.normalised));
  return new Set(candidates.filter((_, i) => flags[i]).map((c) => c.value));
}

/** One page of the list (SSCAN): pass the returned cursor back; '0' when done. */
export async function listSuppressions(redis: RedisPort, keys: Keys, cursor = '0', count = 1000): Promise<{ cursor: string; values: string[] }> {
  const page = await redis.sscan(keys.suppressions(), cursor, count);
  return { cursor: page.cursor, values: page.members.sort() };
}

// Triggers in Redis: the hash `defs:triggers` (field = slug, value = the document as applied plus
// its identity) and the definitions version counter every process polls (see source-store.ts).
// Identity: `triggerId` (UUID) and `slot` (INCR of a counter, never reused) are assigned once at
// creation and kept on every update; `version` comes from a per-trigger INCR so that two
// concurrent changes can never share a version number, and an identical re-put changes nothing.
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import type { RedisPort } from '../core/redis/client.js';
import type { Keys } from '../core/redis/keys.js';
import { parseTrigger, type TriggerDefinition } from './trigger.js';

export interface StoredTrigger extends TriggerDefinition {
  /** Stable UUID assigned at creation, kept on every update (a delete and re-create gets a new one). */
  triggerId: string;
  /** Small stable integer assigned at creation, never reused: names per-trigger fields in visitor state. */
  slot: number;
  /** 1 at creation, +1 on every change; an identical re-put does not bump it. */
  version: number;
  /** ms since epoch of the last change. */
  updatedAt: number;
}

const record = z.object({
  document: z.unknown(),
  triggerId: z.string().uuid(),
  slot: z.number().int().min(1),
  version: z.number().int().min(1),
  updatedAt: z.number(),
});
type TriggerRecord = z.output<typeof record>;

/**
 * Keys of the trigger store, all derived from `keys.definitions` (so under `<prefix>:defs:`).
 * Kept here rather than in keys.ts while the detect stage is being written; move them there.
 */
export function triggerKeys(keys: Keys) {
  return {
    triggers: keys.definitions('triggers'),
    slots: keys.definitions('triggers:slots'),
    version: (triggerId: string) => keys.definitions(`triggers:version:${triggerId}`),
    live: (triggerId: string, version: number) => keys.definitions(`triggers:live:${triggerId}:${version}`),
  };
}

function toStored(definition: TriggerDefinition, meta: Omit<TriggerRecord, 'document'>): StoredTrigger {
  return { ...definition, triggerId: meta.triggerId, slot: meta.slot, version: meta.version, updatedAt: meta.updatedAt };
}

/** The stored trigger of a hash value, or a message saying why it no longer validates. */
function readRecord(id: string, json: string): StoredTrigger | string {
  try {
    const parsed = record.safeParse(JSON.parse(json));
    if (!parsed.success) return `stored trigger ${id}: bad record (${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')})`;
    return toStored(parseTrigger(parsed.data.document, `trigger ${id}`), parsed.data);
  } catch (err) {
    return (err as Error).message;
  }
}

/**
 * Validates and stores a trigger (an upsert); returns it as stored. Not atomic against a
 * concurrent put of the same slug (last writer wins, both get distinct versions): definitions
 * are applied by an operator, one at a time.
 */
export async function putTrigger(redis: RedisPort, keys: Keys, document: unknown, now: number = Date.now()): Promise<StoredTrigger> {
  const definition = parseTrigger(document, `trigger ${String((document as { id?: unknown } | null)?.id)}`);
  const k = triggerKeys(keys);
  const existingJson = (await redis.hget(k.triggers, definition.id)) ?? undefined;
  const existing = existingJson === undefined ? undefined : readRecord(definition.id, existingJson);
  if (typeof existing === 'object' && sameDefinition(existing, definition)) return existing;
  const previous = existingJson === undefined ? undefined : record.safeParse(safeJson(existingJson));
  const identity = previous?.success ? { triggerId: previous.data.triggerId, slot: previous.data.slot } : { triggerId: randomUUID(), slot: await redis.incr(k.slots) };
  const meta = { ...identity, version: await redis.incr(k.version(identity.triggerId)), updatedAt: now };
  await redis.hset(k.triggers, definition.id, JSON.stringify({ document, ...meta }));
  await redis.incr(keys.definitionsVersion());
  return toStored(definition, meta);
}

function sameDefinition(stored: StoredTrigger, definition: TriggerDefinition): boolean {
  const { triggerId: _id, slot: _slot, version: _version, updatedAt: _at, ...storedDefinition } = stored;
  return JSON.stringify(storedDefinition) === JSON.stringify(definition);
}

function safeJson(json: string): unknown {
  try {
    return JSON.parse(json);
  } catch {
    return undefined;
  }
}

/** Resolves true when the trigger existed. Its version counter and live marks stay (a few bytes). */
export async function deleteTrigger(redis: RedisPort, keys: Keys, id: string): Promise<boolean> {
  const existed = await redis.hdel(triggerKeys(keys).triggers, id);
  if (existed) await redis.incr(keys.definitionsVersion());
  return existed;
}

/** Every stored trigger (enabled or not); one that no longer validates is reported, not returned. */
export async function loadTriggers(redis: RedisPort, keys: Keys): Promise<{ triggers: StoredTrigger[]; invalid: Array<{ id: string; error: string }> }> {
  const stored = await redis.hgetall(triggerKeys(keys).triggers);
  const triggers: StoredTrigger[] = [];
  const invalid: Array<{ id: string; error: string }> = [];
  for (const [id, json] of Object.entries(stored)) {
    const result = readRecord(id, json);
    if (typeof result === 'string') invalid.push({ id, error: result });
    else triggers.push(result);
  }
  triggers.sort((a, b) => a.slot - b.slot);
  return { triggers, invalid };
}

/**
 * Records when a trigger version went live: the first process to load it wins (SET NX), every
 * other process reads the same value back. Returns the stored liveSince (ms).
 */
export async function recordLive(redis: RedisPort, keys: Keys, trigger: StoredTrigger, now: number): Promise<number> {
  return Number(await redis.setIfAbsent(triggerKeys(keys).live(trigger.triggerId, trigger.version), String(now)));
}

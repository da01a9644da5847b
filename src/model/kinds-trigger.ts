// The Trigger kind for apply and the admin API. Stored exactly as trigger-store.ts stores it
// (hash `triggerKeys(keys).triggers`, value `{document, triggerId, slot, version, updatedAt}`),
// so loadTriggers and the detect stage read what apply wrote. Identity is kept on a change; a
// new trigger takes its slot and every change its version from the same counters as putTrigger.
import { randomUUID } from 'node:crypto';
import { canonicalJson, safeJson, sortedById, validatedOrUndefined, type DefinitionContext, type DefinitionKind } from './definition-kind.js';
import { parseTrigger } from './trigger.js';
import { triggerKeys } from './trigger-store.js';

interface TriggerRecord {
  document: unknown;
  triggerId?: string;
  slot?: number;
  version?: number;
  updatedAt?: number;
}

function readRecord(stored: string): TriggerRecord | undefined {
  const record = safeJson(stored);
  return typeof record === 'object' && record !== null && 'document' in record ? (record as TriggerRecord) : undefined;
}

/** The document as applied, with its identity (slot is internal). */
function view(stored: string): unknown {
  const record = readRecord(stored);
  if (record === undefined) return safeJson(stored);
  const { document, triggerId, version, updatedAt } = record;
  return { ...(document as object), triggerId, version, updatedAt };
}

const validate = (document: unknown, origin: string): unknown => parseTrigger(document, origin);

async function read({ redis, keys }: DefinitionContext, id: string): Promise<string | undefined> {
  return (await redis.hget(triggerKeys(keys).triggers, id)) ?? undefined;
}

export const triggerKind: DefinitionKind = {
  kind: 'Trigger',
  resource: 'triggers',
  validate,
  ids: async ({ redis, keys }) => Object.keys(await redis.hgetall(triggerKeys(keys).triggers)),
  show: async (ctx, id) => {
    const stored = await read(ctx, id);
    return stored === undefined ? undefined : view(stored);
  },
  showAll: async ({ redis, keys }) => sortedById(Object.entries(await redis.hgetall(triggerKeys(keys).triggers))).map(([, stored]) => view(stored)),
  async plan(ctx, id, document, commit) {
    const previous = await read(ctx, id);
    const next = canonicalJson(validate(document, `Trigger ${id}`));
    const record = previous === undefined ? undefined : readRecord(previous);
    const before = record === undefined ? undefined : validatedOrUndefined(triggerKind, record.document);
    if (before !== undefined && canonicalJson(before) === next) return { outcome: 'unchanged', writes: [] };
    const outcome = previous === undefined ? 'created' : 'changed';
    if (!commit) return { outcome, writes: [] };
    const { redis, keys, now } = ctx;
    const k = triggerKeys(keys);
    const known = typeof record?.triggerId === 'string' && typeof record.slot === 'number';
    const triggerId = known ? (record?.triggerId as string) : randomUUID();
    const slot = known ? (record?.slot as number) : await redis.incr(k.slots);
    const version = await redis.incr(k.version(triggerId));
    const value = JSON.stringify({ document, triggerId, slot, version, updatedAt: now });
    return { outcome, writes: [{ op: 'hset', key: k.triggers, field: id, value }] };
  },
  planDelete: async (ctx, id) => ((await read(ctx, id)) === undefined ? undefined : [{ op: 'hdel', key: triggerKeys(ctx.keys).triggers, field: id }]),
};

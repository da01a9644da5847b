// Events in Redis, and what the three campaign definition stores (events, templates, test
// profiles) share: their keys, their record format and how a change is committed.
//
// Keys (all `keys.definitions(…)`, so under the `{defs}` hash tag, one Redis Cluster slot):
//   events                   hash, field = event id, value = record JSON
//   events:state:<id>        hash: status, statusAt, everSent (the campaign stage's HSETNX)
//   templates                hash, field = template id, value = record JSON (the draft)
//   templates:state:<id>     hash: status, statusAt, version (the current published version)
//   templates:versions:<id>  hash, field = version number, value = {document, publishedAt}, never rewritten
//   templates:seq:<id>       the last version number frozen; kept on delete so numbers are never reused
//   test-profiles            hash, field = test profile id, value = record JSON
// A record is `{document, version, createdAt, updatedAt}`: the document as applied without its
// `status:` (the lifecycle state lives in the state hash), `version` +1 on every change.
//
// Every change is planned from what is stored, then committed with lua/defs-apply.lua: all its
// writes and the INCR of the definitions version at once, and only if the version has not moved
// since the plan was read (else planned again), so concurrent changes never interleave.
import { ReboundError } from '../core/errors.js';
import type { RedisPort } from '../core/redis/client.js';
import type { Keys } from '../core/redis/keys.js';
import type { DefinitionWrite, Outcome } from './definition-kind.js';
import { parseEvent, type EventDefinition } from './event.js';
import { parseTemplate } from './template.js';

/** draft → published ⇄ paused → unpublished (→ published again). */
export type LifecycleStatus = 'draft' | 'published' | 'paused' | 'unpublished';
export const lifecycleStatuses: readonly LifecycleStatus[] = ['draft', 'published', 'paused', 'unpublished'];

export function campaignKeys(keys: Keys) {
  return {
    events: keys.definitions('events'),
    eventState: (id: string) => keys.definitions(`events:state:${id}`),
    templates: keys.definitions('templates'),
    templateState: (id: string) => keys.definitions(`templates:state:${id}`),
    templateVersions: (id: string) => keys.definitions(`templates:versions:${id}`),
    templateVersionSeq: (id: string) => keys.definitions(`templates:seq:${id}`),
    testProfiles: keys.definitions('test-profiles'),
  };
}

/** The state hash of an event, and its field the campaign stage sets (HSETNX) on a first send. */
export const eventStateKey = (keys: Keys, eventId: string): string => campaignKeys(keys).eventState(eventId);
export const eventSentField = 'everSent';

/**
 * Records that an event has sent a message (an unpublished event that has sent cannot be
 * deleted). HSETNX: the first send's time stays; not a definitions change (no version INCR).
 */
export async function markEventSent(redis: RedisPort, keys: Keys, eventId: string, now: number = Date.now()): Promise<void> {
  await redis.hsetnx(eventStateKey(keys, eventId), eventSentField, String(now));
}

// ---------------------------------------------------------------------------------------------
// Records and commits (shared by the campaign stores)

export interface DefinitionRecord {
  document: Record<string, unknown>;
  version: number;
  createdAt: number;
  updatedAt: number;
}

export function readDefinitionRecord(json: string): DefinitionRecord | undefined {
  try {
    const value = JSON.parse(json) as Partial<DefinitionRecord> | null;
    if (typeof value !== 'object' || value === null || typeof value.document !== 'object' || value.document === null) return undefined;
    const number = (n: unknown): number => (typeof n === 'number' && Number.isFinite(n) ? n : 0);
    return { document: value.document, version: number(value.version), createdAt: number(value.createdAt), updatedAt: number(value.updatedAt) };
  } catch {
    return undefined;
  }
}

/** The document as stored: without `status:`, which is a lifecycle request, not content. */
export function storedDocument(document: unknown): Record<string, unknown> {
  const { status: _status, ...rest } = document as Record<string, unknown>;
  return rest;
}

/** The record value of a changed document. */
export function recordValue(document: Record<string, unknown>, previous: DefinitionRecord | undefined, now: number): string {
  const record: DefinitionRecord = { document, version: (previous?.version ?? 0) + 1, createdAt: previous?.createdAt ?? now, updatedAt: now };
  return JSON.stringify(record);
}

export interface Lifecycle {
  status: LifecycleStatus;
  statusAt?: number;
}

export function readLifecycle(fields: Record<string, string>): Lifecycle {
  const status = lifecycleStatuses.includes(fields.status as LifecycleStatus) ? (fields.status as LifecycleStatus) : 'draft';
  const at = Number(fields.statusAt);
  return Number.isFinite(at) && fields.statusAt !== undefined ? { status, statusAt: at } : { status };
}

/** A planned change: its writes (empty when nothing changes) and what to answer once committed. */
export interface Plan<T> {
  writes: DefinitionWrite[];
  result: T;
}

/** Commits writes planned at definitions version `plannedAt`; false when the version moved since. */
export async function commitWrites(redis: RedisPort, keys: Keys, plannedAt: string, writes: readonly DefinitionWrite[]): Promise<boolean> {
  if (writes.length === 0) return true;
  const keyList = [keys.definitionsVersion()];
  const slots = new Map<string, number>();
  const args: Array<string | number> = [plannedAt, writes.length];
  for (const write of writes) {
    let slot = slots.get(write.key);
    if (slot === undefined) {
      keyList.push(write.key);
      slot = keyList.length;
      slots.set(write.key, slot);
    }
    args.push(write.op, slot, 'field' in write ? write.field : '', 'value' in write ? write.value : '');
  }
  return Number(await redis.script('reboundDefsApply', keyList, args)) !== -1;
}

const maxAttempts = 8;

/** Plans against the stored definitions and commits, again while others commit in between. */
export async function transact<T>(redis: RedisPort, keys: Keys, plan: () => Promise<Plan<T>>): Promise<T> {
  for (let attempt = 0; attempt < maxAttempts; attempt++) {
    const plannedAt = (await redis.get(keys.definitionsVersion())) ?? '0';
    const { writes, result } = await plan();
    if (await commitWrites(redis, keys, plannedAt, writes)) return result;
  }
  throw new ReboundError('DEFINITIONS_CONFLICT', `definitions changed ${maxAttempts} times while this change was planned; nothing was changed, try again`);
}

// ---------------------------------------------------------------------------------------------
// Events

export interface StoredEvent extends Omit<EventDefinition, 'status'> {
  /** The lifecycle state (what the admin API's transitions changed), not the document's request. */
  status: LifecycleStatus;
  statusAt?: number;
  /** True once the campaign stage has sent a message for it. */
  everSent: boolean;
  version: number;
  createdAt: number;
  updatedAt: number;
  /** The document as applied (without `status:`). */
  document: Record<string, unknown>;
}

function toStoredEvent(definition: EventDefinition, record: DefinitionRecord, state: Record<string, string>): StoredEvent {
  const { status: _desired, ...rest } = definition;
  return { ...rest, ...readLifecycle(state), everSent: state[eventSentField] !== undefined, version: record.version, createdAt: record.createdAt, updatedAt: record.updatedAt, document: record.document };
}

/** A stored event from its record and state, or why it no longer validates. */
export function readStoredEvent(id: string, json: string, state: Record<string, string>): StoredEvent | string {
  const record = readDefinitionRecord(json);
  if (record === undefined) return `stored event ${id}: not a record`;
  try {
    return toStoredEvent(parseEvent(record.document, `stored event ${id}`), record, state);
  } catch (err) {
    return (err as Error).message;
  }
}

export async function getEvent(redis: RedisPort, keys: Keys, id: string): Promise<StoredEvent | undefined> {
  const k = campaignKeys(keys);
  const [json, state] = await Promise.all([redis.hget(k.events, id), redis.hgetall(k.eventState(id))]);
  if (json === null) return undefined;
  const stored = readStoredEvent(id, json, state);
  if (typeof stored === 'string') throw new ReboundError('EVENT_INVALID', stored, { path: `event ${id}` });
  return stored;
}

/**
 * Every record of a definitions hash with its lifecycle state hash, read by `read` (events,
 * templates); one that no longer validates is reported, not returned. Sorted by id.
 */
export async function loadWithState<T extends { id: string }>(
  redis: RedisPort,
  hashKey: string,
  stateKey: (id: string) => string,
  read: (id: string, json: string, state: Record<string, string>) => T | string,
): Promise<{ items: T[]; invalid: Array<{ id: string; error: string }> }> {
  const stored = Object.entries(await redis.hgetall(hashKey));
  const states = await Promise.all(stored.map(([id]) => redis.hgetall(stateKey(id))));
  const items: T[] = [];
  const invalid: Array<{ id: string; error: string }> = [];
  stored.forEach(([id, json], i) => {
    const item = read(id, json, states[i] ?? {});
    if (typeof item === 'string') invalid.push({ id, error: item });
    else items.push(item);
  });
  items.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  return { items, invalid };
}

/** Every stored event with its state; one that no longer validates is reported, not returned. */
export async function loadEvents(redis: RedisPort, keys: Keys): Promise<{ events: StoredEvent[]; invalid: Array<{ id: string; error: string }> }> {
  const k = campaignKeys(keys);
  const { items, invalid } = await loadWithState(redis, k.events, (id) => k.eventState(id), readStoredEvent);
  return { events: items, invalid };
}

/** Ids and channels of the stored events whose `template:` is `templateId` (records that no longer validate are skipped). */
export async function eventsUsingTemplate(redis: RedisPort, keys: Keys, templateId: string): Promise<StoredEvent[]> {
  return (await loadEvents(redis, keys)).events.filter((event) => event.template === templateId);
}

/** True when a stored event has the content of `next` (its lifecycle state and `status:` aside). */
function sameContent(stored: StoredEvent, next: EventDefinition): boolean {
  const { status: _s, statusAt: _at, everSent: _sent, version: _v, createdAt: _c, updatedAt: _u, document: _d, ...left } = stored;
  const { status: _desired, ...right } = next;
  return JSON.stringify(left) === JSON.stringify(right);
}

/** Problems of changing a stored event into `next`: channel and targeting are fixed at creation. */
export function immutableFieldProblems(previous: Record<string, unknown>, next: EventDefinition): string[] {
  const problems: string[] = [];
  for (const field of ['channel', 'targeting'] as const) {
    const before = previous[field];
    if (before !== undefined && before !== next[field]) {
      problems.push(`  ${field}: cannot change after the event is created (${String(before)} → ${next[field]}); create a new event instead`);
    }
  }
  return problems;
}

/** The channel of a stored template draft, when there is one that validates. */
async function storedTemplateChannel(redis: RedisPort, keys: Keys, templateId: string): Promise<string | undefined> {
  const json = await redis.hget(campaignKeys(keys).templates, templateId);
  const record = json === null ? undefined : readDefinitionRecord(json);
  if (record === undefined) return undefined;
  try {
    return parseTemplate(record.document, `template ${templateId}`).channel;
  } catch {
    return undefined;
  }
}

export interface EventPut {
  outcome: Outcome;
  event: StoredEvent;
}

/**
 * Plans storing an event document (an upsert). Throws EVENT_INVALID, EVENT_IMMUTABLE_FIELD (channel
 * or targeting changed) or TEMPLATE_CHANNEL_MISMATCH (its template is on the other channel); an
 * unchanged document (apart from `status:`) plans no write. The lifecycle state is not touched.
 */
export async function planEventPut(redis: RedisPort, keys: Keys, document: unknown, now: number): Promise<Plan<EventPut>> {
  const definition = parseEvent(document, `event ${String((document as { id?: unknown } | null)?.id)}`);
  const k = campaignKeys(keys);
  const [json, state] = await Promise.all([redis.hget(k.events, definition.id), redis.hgetall(k.eventState(definition.id))]);
  const previous = json === null ? undefined : readDefinitionRecord(json);
  if (previous !== undefined) {
    const problems = immutableFieldProblems(previous.document, definition);
    if (problems.length > 0) throw new ReboundError('EVENT_IMMUTABLE_FIELD', `event ${definition.id}: fields fixed at creation cannot change:\n${problems.join('\n')}`, { path: `event ${definition.id}: ${problems[0]?.trim().split(':')[0] ?? ''}` });
  }
  const templateChannel = await storedTemplateChannel(redis, keys, definition.template);
  if (templateChannel !== undefined && templateChannel !== definition.channel) {
    throw new ReboundError('TEMPLATE_CHANNEL_MISMATCH', `event ${definition.id}:\n  template: template ${definition.template} is an ${templateChannel} template; this event sends ${definition.channel}`, { path: `event ${definition.id}: template` });
  }
  const before = previous === undefined ? undefined : readStoredEvent(definition.id, json ?? '', state);
  if (typeof before === 'object' && sameContent(before, definition)) return { writes: [], result: { outcome: 'unchanged', event: before } };
  const value = recordValue(storedDocument(document), previous, now);
  const record = readDefinitionRecord(value) as DefinitionRecord;
  return {
    writes: [{ op: 'hset', key: k.events, field: definition.id, value }],
    result: { outcome: previous === undefined ? 'created' : 'changed', event: toStoredEvent(definition, record, state) },
  };
}

/** Validates and stores an event (an upsert); its lifecycle state is unchanged (a new event is a draft). */
export function putEvent(redis: RedisPort, keys: Keys, document: unknown, now: number = Date.now()): Promise<EventPut> {
  return transact(redis, keys, () => planEventPut(redis, keys, document, now));
}

/** The writes that remove an event (record and state); lifecycle.ts decides whether it may. */
export function eventRemovalWrites(keys: Keys, id: string): DefinitionWrite[] {
  const k = campaignKeys(keys);
  return [
    { op: 'hdel', key: k.events, field: id },
    { op: 'del', key: k.eventState(id) },
  ];
}

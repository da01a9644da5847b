// Templates in Redis: the draft (what `PUT`/apply changes) and the immutable published versions
// (SPEC §6.5: publishing freezes a new version; a send uses the version current when it was
// rendered). A version is written once, never rewritten; numbers are never reused, even after the
// template is deleted and created again. Keys and record format: event-store.ts. Also the SMS
// length check a publish runs against the test profiles' previews.
import { ReboundError } from '../core/errors.js';
import type { RedisPort } from '../core/redis/client.js';
import type { Keys } from '../core/redis/keys.js';
import type { DefinitionWrite, Outcome } from './definition-kind.js';
import {
  campaignKeys,
  eventsUsingTemplate,
  loadWithState,
  readDefinitionRecord,
  readLifecycle,
  recordValue,
  storedDocument,
  transact,
  type DefinitionRecord,
  type LifecycleStatus,
  type Plan,
} from './event-store.js';
import { compileTemplate } from './render.js';
import { smsInfo } from './sms-encoding.js';
import { parseTemplate, type TemplateDefinition } from './template.js';
import { previewContext, type TestProfileDefinition } from './test-profile.js';

export interface StoredTemplate extends Omit<TemplateDefinition, 'status'> {
  status: LifecycleStatus;
  statusAt?: number;
  /** The version sent while published (or resumed to): set by each publish. */
  publishedVersion?: number;
  /** +1 on every change of the draft (not a published version number). */
  revision: number;
  createdAt: number;
  updatedAt: number;
  /** The draft as applied (without `status:`). */
  document: Record<string, unknown>;
}

export interface TemplateVersion {
  id: string;
  version: number;
  publishedAt: number;
  /** The exact document frozen at publish. */
  document: Record<string, unknown>;
}

export const defaultSmsMaxSegments = 3;

function withoutStatus(definition: TemplateDefinition): Omit<TemplateDefinition, 'status'> {
  const { status: _status, ...rest } = definition;
  return rest;
}

function toStored(definition: TemplateDefinition, record: DefinitionRecord, state: Record<string, string>): StoredTemplate {
  const stored: StoredTemplate = { ...withoutStatus(definition), ...readLifecycle(state), revision: record.version, createdAt: record.createdAt, updatedAt: record.updatedAt, document: record.document };
  const version = Number(state.version);
  if (state.version !== undefined && Number.isInteger(version) && version > 0) stored.publishedVersion = version;
  return stored;
}

function readStored(id: string, json: string, state: Record<string, string>): StoredTemplate | string {
  const record = readDefinitionRecord(json);
  if (record === undefined) return `stored template ${id}: not a record`;
  try {
    return toStored(parseTemplate(record.document, `stored template ${id}`), record, state);
  } catch (err) {
    return (err as Error).message;
  }
}

export async function getTemplate(redis: RedisPort, keys: Keys, id: string): Promise<StoredTemplate | undefined> {
  const k = campaignKeys(keys);
  const [json, state] = await Promise.all([redis.hget(k.templates, id), redis.hgetall(k.templateState(id))]);
  if (json === null) return undefined;
  const stored = readStored(id, json, state);
  if (typeof stored === 'string') throw new ReboundError('TEMPLATE_INVALID', stored, { path: `template ${id}` });
  return stored;
}

/** Every stored template draft with its state; one that no longer validates is reported, not returned. */
export async function loadTemplates(redis: RedisPort, keys: Keys): Promise<{ templates: StoredTemplate[]; invalid: Array<{ id: string; error: string }> }> {
  const k = campaignKeys(keys);
  const { items, invalid } = await loadWithState(redis, k.templates, (id) => k.templateState(id), readStored);
  return { templates: items, invalid };
}

const sameDraft = (a: TemplateDefinition, b: TemplateDefinition): boolean => JSON.stringify(withoutStatus(a)) === JSON.stringify(withoutStatus(b));

/**
 * Plans storing a template draft (an upsert). Throws TEMPLATE_INVALID, or TEMPLATE_CHANNEL_MISMATCH
 * when an event using it is on the other channel; an unchanged draft plans no write. Published
 * versions and the lifecycle state are not touched.
 */
export async function planTemplatePut(redis: RedisPort, keys: Keys, document: unknown, now: number): Promise<Plan<{ outcome: Outcome; template: StoredTemplate }>> {
  const definition = parseTemplate(document, `template ${String((document as { id?: unknown } | null)?.id)}`);
  const k = campaignKeys(keys);
  const mismatched = (await eventsUsingTemplate(redis, keys, definition.id)).filter((event) => event.channel !== definition.channel);
  if (mismatched.length > 0) {
    const lines = mismatched.map((event) => `  channel: event ${event.id} uses this template and sends ${event.channel}`);
    throw new ReboundError('TEMPLATE_CHANNEL_MISMATCH', `template ${definition.id} (${definition.channel}):\n${lines.join('\n')}`, { path: `template ${definition.id}: channel` });
  }
  const [json, state] = await Promise.all([redis.hget(k.templates, definition.id), redis.hgetall(k.templateState(definition.id))]);
  const previous = json === null ? undefined : readDefinitionRecord(json);
  const before = json === null ? undefined : readStored(definition.id, json, state);
  if (previous !== undefined && typeof before === 'object' && sameDraft(parseTemplate(previous.document), definition)) return { writes: [], result: { outcome: 'unchanged', template: before } };
  const value = recordValue(storedDocument(document), previous, now);
  return {
    writes: [{ op: 'hset', key: k.templates, field: definition.id, value }],
    result: { outcome: previous === undefined ? 'created' : 'changed', template: toStored(definition, readDefinitionRecord(value) as DefinitionRecord, state) },
  };
}

/** Validates and stores a template draft; a published version never changes with it. */
export function putTemplate(redis: RedisPort, keys: Keys, document: unknown, now: number = Date.now()): Promise<{ outcome: Outcome; template: StoredTemplate }> {
  return transact(redis, keys, () => planTemplatePut(redis, keys, document, now));
}

// ---------------------------------------------------------------------------------------------
// Published versions

export function readTemplateVersion(id: string, version: number, json: string): TemplateVersion | undefined {
  try {
    const value = JSON.parse(json) as { document?: unknown; publishedAt?: unknown } | null;
    if (typeof value?.document !== 'object' || value.document === null) return undefined;
    return { id, version, publishedAt: typeof value.publishedAt === 'number' ? value.publishedAt : 0, document: value.document as Record<string, unknown> };
  } catch {
    return undefined;
  }
}

export async function getTemplateVersion(redis: RedisPort, keys: Keys, id: string, version: number): Promise<TemplateVersion | undefined> {
  const json = await redis.hget(campaignKeys(keys).templateVersions(id), String(version));
  return json === null ? undefined : readTemplateVersion(id, version, json);
}

/** Every frozen version of a template, oldest first. */
export async function listTemplateVersions(redis: RedisPort, keys: Keys, id: string): Promise<TemplateVersion[]> {
  const stored = await redis.hgetall(campaignKeys(keys).templateVersions(id));
  return Object.entries(stored)
    .map(([field, json]) => readTemplateVersion(id, Number(field), json))
    .filter((v): v is TemplateVersion => v !== undefined)
    .sort((a, b) => a.version - b.version);
}

/**
 * The version a publish of `draft` makes current: the latest frozen one when its document is the
 * draft's (a publish without a change freezes nothing), else a new number with the writes that
 * freeze it. Numbers come from `templates:seq:<id>`, which outlives a delete.
 */
export async function planVersionFreeze(redis: RedisPort, keys: Keys, draft: StoredTemplate, now: number): Promise<{ version: number; created: boolean; writes: DefinitionWrite[] }> {
  const k = campaignKeys(keys);
  const latest = Number((await redis.get(k.templateVersionSeq(draft.id))) ?? '0') || 0;
  if (latest > 0) {
    const frozen = await getTemplateVersion(redis, keys, draft.id, latest);
    if (frozen !== undefined && sameFrozen(frozen.document, draft)) return { version: latest, created: false, writes: [] };
  }
  let version = latest + 1;
  while ((await redis.hget(k.templateVersions(draft.id), String(version))) !== null) version++;
  const value = JSON.stringify({ document: draft.document, publishedAt: now });
  return {
    version,
    created: true,
    writes: [
      { op: 'hset', key: k.templateVersions(draft.id), field: String(version), value },
      { op: 'set', key: k.templateVersionSeq(draft.id), value: String(version) },
    ],
  };
}

function sameFrozen(document: Record<string, unknown>, draft: StoredTemplate): boolean {
  try {
    return sameDraft(parseTemplate(document), parseTemplate(draft.document));
  } catch {
    return false;
  }
}

/** The writes that remove a template: draft, state and versions (not the version counter). */
export function templateRemovalWrites(keys: Keys, id: string): DefinitionWrite[] {
  const k = campaignKeys(keys);
  return [
    { op: 'hdel', key: k.templates, field: id },
    { op: 'del', key: k.templateState(id) },
    { op: 'del', key: k.templateVersions(id) },
  ];
}

// ---------------------------------------------------------------------------------------------
// SMS length at publish

export interface SmsSegmentProblem {
  /** Where in the template: `text` or `languages.<code>.text`. */
  path: string;
  /** The test profile whose preview is too long; undefined when rendered without one. */
  testProfile?: string;
  encoding: 'GSM-7' | 'UCS-2';
  segments: number;
  message: string;
}

/**
 * Renders an sms template's default text and each language's text with every test profile's data
 * (or with no data when there is none) and reports those needing more than `maxSegments` SMS
 * segments, the longest per path. A preview that fails to render is not a length problem (the
 * preview shows that error) and is skipped.
 */
export function checkSmsSegments(template: TemplateDefinition, testProfiles: readonly TestProfileDefinition[], maxSegments: number): SmsSegmentProblem[] {
  if (template.channel !== 'sms') return [];
  const compiled = compileTemplate(template);
  const variants: Array<{ path: string; locale?: string }> = [{ path: 'text' }];
  for (const [code, content] of Object.entries(template.languages)) if (content.text !== undefined) variants.push({ path: `languages.${code}.text`, locale: code });
  const profiles: Array<TestProfileDefinition | undefined> = testProfiles.length > 0 ? [...testProfiles] : [undefined];
  const worst = new Map<string, SmsSegmentProblem>();
  for (const variant of variants) {
    for (const profile of profiles) {
      let text: string;
      try {
        text = compiled.render(previewContext(profile), variant.locale).text ?? '';
      } catch {
        continue;
      }
      const info = smsInfo(text);
      if (info.segments <= maxSegments || (worst.get(variant.path)?.segments ?? 0) >= info.segments) continue;
      const who = profile === undefined ? 'with no test profile' : `with test profile ${profile.id}`;
      const problem: SmsSegmentProblem = {
        path: variant.path,
        encoding: info.encoding,
        segments: info.segments,
        message: `rendered ${who} it needs ${info.segments} SMS segments (${info.encoding}, ${info.units} ${info.encoding === 'GSM-7' ? 'septets' : 'UCS-2 units'}); at most ${maxSegments} (campaign.smsMaxSegments)`,
      };
      if (profile !== undefined) problem.testProfile = profile.id;
      worst.set(variant.path, problem);
    }
  }
  return [...worst.values()];
}

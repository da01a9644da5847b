// The publish lifecycle of events and templates (SPEC §6.1, Adobe §3.8): draft → published ⇄
// paused → unpublished, published again from unpublished. The admin API's endpoints and `status:`
// in applied YAML go through the same transitions; a transition the state does not allow throws
// LIFECYCLE_FORBIDDEN saying what to do first, an unknown id DEFINITION_NOT_FOUND. Each operation
// is planned from what is stored and committed at once (event-store.ts `transact`), so a
// multi-step change (unpublishing a template and its events) is never seen half done.
// Longer than most files: events and templates share one rule table, and applying a document
// (content and `status:` in one commit) needs both kinds' transitions.
import { ReboundError } from '../core/errors.js';
import type { RedisPort } from '../core/redis/client.js';
import type { Keys } from '../core/redis/keys.js';
import type { DefinitionWrite, Outcome } from './definition-kind.js';
import type { DesiredStatus } from './event.js';
import {
  campaignKeys,
  eventRemovalWrites,
  eventSentField,
  eventsUsingTemplate,
  getEvent,
  planEventPut,
  readDefinitionRecord,
  readLifecycle,
  recordValue,
  transact,
  type LifecycleStatus,
  type Plan,
  type StoredEvent,
} from './event-store.js';
import { parseTemplate } from './template.js';
import { checkSmsSegments, defaultSmsMaxSegments, getTemplate, planTemplatePut, planVersionFreeze, templateRemovalWrites, type StoredTemplate } from './template-store.js';
import { loadTestProfiles } from './test-profile.js';

export type LifecycleAction = 'publish' | 'pause' | 'resume' | 'unpublish';

export interface LifecycleOptions {
  now?: number;
  /** campaign.smsMaxSegments: an sms template needing more segments is not published. */
  smsMaxSegments?: number;
}

export interface Transition {
  kind: 'event' | 'template';
  id: string;
  from: LifecycleStatus;
  to: LifecycleStatus;
}

export interface EventLifecycleResult {
  id: string;
  status: LifecycleStatus;
  /** What changed, in order; empty when the event was in the requested state already. */
  transitions: Transition[];
  /** Publishing created the event's template as a draft skeleton (it did not exist). */
  createdTemplate: boolean;
}

export interface TemplateLifecycleResult {
  id: string;
  status: LifecycleStatus;
  /** The published version current after the operation, when there is one. */
  version?: number;
  /** Publishing froze a new version (the draft differed from the latest frozen one). */
  versionCreated: boolean;
  transitions: Transition[];
}

interface Rule {
  from: readonly LifecycleStatus[];
  /** States in which the action changes nothing (asked again: idempotent). */
  same: readonly LifecycleStatus[];
  to: LifecycleStatus;
  refuse(what: string, status: LifecycleStatus): string;
}

const described = (status: LifecycleStatus): string => (status === 'draft' ? 'a draft' : status);

function rules(kind: 'event' | 'template'): Record<LifecycleAction, Rule> {
  return {
    publish: {
      from: kind === 'event' ? ['draft', 'unpublished'] : ['draft', 'unpublished', 'published', 'paused'],
      same: kind === 'event' ? ['published'] : [],
      to: 'published',
      refuse: (what) => `${what} is paused: resume it instead`,
    },
    pause: { from: ['published'], same: ['paused'], to: 'paused', refuse: (what, s) => `${what} is ${described(s)}: only a published ${kind} can be paused` },
    resume: { from: ['paused'], same: ['published'], to: 'published', refuse: (what, s) => `${what} is ${described(s)}: only a paused ${kind} can be resumed` },
    unpublish: { from: ['published', 'paused'], same: ['unpublished'], to: 'unpublished', refuse: (what) => `${what} is a draft: it was never published` },
  };
}
const eventRules = rules('event');
const templateRules = rules('template');

function forbidden(message: string, path: string): never {
  throw new ReboundError('LIFECYCLE_FORBIDDEN', message, { path });
}

function notFound(kind: 'event' | 'template', id: string): never {
  throw new ReboundError('DEFINITION_NOT_FOUND', `${kind} ${id} does not exist`, { path: `${kind} ${id}` });
}

function stateWrites(key: string, status: LifecycleStatus, now: number): DefinitionWrite[] {
  return [
    { op: 'hset', key, field: 'status', value: status },
    { op: 'hset', key, field: 'statusAt', value: String(now) },
  ];
}

/** The actions that take an event or template from `current` to the state a document asks for. */
export function actionsToward(current: LifecycleStatus, desired: DesiredStatus): LifecycleAction[] {
  if (desired === 'published') return current === 'published' ? [] : current === 'paused' ? ['resume'] : ['publish'];
  if (desired === 'paused') return current === 'paused' ? [] : current === 'published' ? ['pause'] : ['publish', 'pause'];
  return current === 'published' || current === 'paused' ? ['unpublish'] : [];
}

/**
 * The same for a template, where asking for `published` also publishes a changed draft (a new
 * version; nothing when the draft is the current version already). A paused template keeps its
 * version until it is published again.
 */
export function templateActionsToward(current: LifecycleStatus, desired: DesiredStatus): LifecycleAction[] {
  if (desired === 'published') return ['publish'];
  if (desired === 'paused') return current === 'paused' ? [] : ['publish', 'pause'];
  return actionsToward(current, desired);
}

// ---------------------------------------------------------------------------------------------
// Events

/**
 * What publishing creates when an event's template does not exist (Adobe creates the
 * transactional message at publish): a draft that renders, says where it came from, and is
 * never sent before someone edits and publishes it.
 */
export function templateSkeleton(event: Pick<StoredEvent, 'id' | 'channel' | 'template'>): Record<string, unknown> {
  const greeting = '{{default profile.firstName "Hello"}}';
  if (event.channel === 'sms') {
    return { kind: 'Template', id: event.template, channel: 'sms', text: `${greeting}, this template was created for event ${event.id}: edit it, then publish it.` };
  }
  return {
    kind: 'Template',
    id: event.template,
    channel: 'email',
    subject: `${greeting}, about your visit`,
    html: `<p>${greeting},</p>\n<p>This template was created when event ${event.id} was published. Edit it, preview it with a test profile, then publish it.</p>\n{{#listing ctx.products max=5}}<p>{{sku}}</p>{{/listing}}`,
  };
}

/** Writes of publishing: the template's channel must match; a missing template is created. */
async function publishWrites(redis: RedisPort, keys: Keys, event: StoredEvent, now: number): Promise<{ writes: DefinitionWrite[]; createdTemplate: boolean }> {
  const k = campaignKeys(keys);
  const json = await redis.hget(k.templates, event.template);
  if (json === null) {
    return { writes: [{ op: 'hset', key: k.templates, field: event.template, value: recordValue(templateSkeleton(event), undefined, now) }], createdTemplate: true };
  }
  const record = readDefinitionRecord(json);
  let channel: string | undefined;
  try {
    channel = record === undefined ? undefined : parseTemplate(record.document).channel;
  } catch {
    channel = undefined;
  }
  if (channel !== undefined && channel !== event.channel) {
    throw new ReboundError('TEMPLATE_CHANNEL_MISMATCH', `event ${event.id}:\n  template: template ${event.template} is an ${channel} template; this event sends ${event.channel}`, { path: `event ${event.id}: template` });
  }
  return { writes: [], createdTemplate: false };
}

/** Plans the actions on a stored event (chosen from its current state); nothing is written when they all change nothing. */
export async function planEventActions(redis: RedisPort, keys: Keys, id: string, choose: (current: LifecycleStatus) => LifecycleAction[], now: number): Promise<Plan<EventLifecycleResult>> {
  return planEventActionsOn(redis, keys, (await getEvent(redis, keys, id)) ?? notFound('event', id), choose, now);
}

/** The same on an event as it will be stored (its put may be planned in the same commit). */
export async function planEventActionsOn(redis: RedisPort, keys: Keys, event: StoredEvent, choose: (current: LifecycleStatus) => LifecycleAction[], now: number): Promise<Plan<EventLifecycleResult>> {
  const id = event.id;
  const result: EventLifecycleResult = { id, status: event.status, transitions: [], createdTemplate: false };
  const writes: DefinitionWrite[] = [];
  for (const action of choose(event.status)) {
    const rule = eventRules[action];
    if (rule.same.includes(result.status)) continue;
    if (!rule.from.includes(result.status)) forbidden(rule.refuse(`event ${id}`, result.status), `event ${id}: status`);
    if (action === 'publish') {
      const extra = await publishWrites(redis, keys, event, now);
      writes.push(...extra.writes);
      result.createdTemplate = extra.createdTemplate;
    }
    writes.push(...stateWrites(campaignKeys(keys).eventState(id), rule.to, now));
    result.transitions.push({ kind: 'event', id, from: result.status, to: rule.to });
    result.status = rule.to;
  }
  return { writes, result };
}

function eventAction(action: LifecycleAction) {
  return (redis: RedisPort, keys: Keys, id: string, options: LifecycleOptions = {}): Promise<EventLifecycleResult> =>
    transact(redis, keys, () => planEventActions(redis, keys, id, () => [action], options.now ?? Date.now()));
}

/** draft | unpublished → published; creates the event's template (a draft) when it does not exist. */
export const publishEvent = eventAction('publish');
/** published → paused: trigger messages are queued (bounded by validity) until resumed. */
export const pauseEvent = eventAction('pause');
/** paused → published: the queued, still valid messages are processed with the current template. */
export const resumeEvent = eventAction('resume');
/** published | paused → unpublished: nothing is sent or queued any more. */
export const unpublishEvent = eventAction('unpublish');

/** Moves an event toward the state its document asks for (`status:` in YAML). */
export function applyEventStatus(redis: RedisPort, keys: Keys, id: string, desired: DesiredStatus, options: LifecycleOptions = {}): Promise<EventLifecycleResult> {
  return transact(redis, keys, () => planEventActions(redis, keys, id, (current) => actionsToward(current, desired), options.now ?? Date.now()));
}

/** Deletes a draft event, or an unpublished one that never sent a message. */
export function deleteEvent(redis: RedisPort, keys: Keys, id: string): Promise<void> {
  return transact(redis, keys, () => planEventDelete(redis, keys, id));
}

/** The writes deleting an event, or LIFECYCLE_FORBIDDEN / DEFINITION_NOT_FOUND. */
export async function planEventDelete(redis: RedisPort, keys: Keys, id: string): Promise<Plan<void>> {
  const k = campaignKeys(keys);
  const [json, state] = await Promise.all([redis.hget(k.events, id), redis.hgetall(k.eventState(id))]);
  if (json === null) notFound('event', id);
  const { status } = readLifecycle(state);
  if (status === 'published' || status === 'paused') forbidden(`event ${id} is ${status}: unpublish it before deleting`, `event ${id}: status`);
  if (status === 'unpublished' && state[eventSentField] !== undefined) forbidden(`event ${id} has sent messages: it can be unpublished, not deleted`, `event ${id}: status`);
  return { writes: eventRemovalWrites(keys, id), result: undefined };
}

// ---------------------------------------------------------------------------------------------
// Templates

async function publishTemplateWrites(redis: RedisPort, keys: Keys, template: StoredTemplate, now: number, maxSegments: number): Promise<{ writes: DefinitionWrite[]; version: number; created: boolean }> {
  const mismatched = (await eventsUsingTemplate(redis, keys, template.id)).filter((event) => event.channel !== template.channel);
  if (mismatched.length > 0) {
    const lines = mismatched.map((event) => `  channel: event ${event.id} uses this template and sends ${event.channel}`);
    throw new ReboundError('TEMPLATE_CHANNEL_MISMATCH', `template ${template.id} (${template.channel}):\n${lines.join('\n')}`, { path: `template ${template.id}: channel` });
  }
  if (template.channel === 'sms') {
    const problems = checkSmsSegments(parseTemplate(template.document), (await loadTestProfiles(redis, keys)).testProfiles, maxSegments);
    if (problems.length > 0) {
      const lines = problems.map((p) => `  ${p.path}: ${p.message}`);
      throw new ReboundError('TEMPLATE_SMS_TOO_LONG', `template ${template.id} is too long to publish:\n${lines.join('\n')}`, { path: `template ${template.id}: ${problems[0]?.path ?? 'text'}` });
    }
  }
  const freeze = await planVersionFreeze(redis, keys, template, now);
  return { writes: freeze.writes, version: freeze.version, created: freeze.created };
}

/** Writes of unpublishing a template: every published or paused event using it is unpublished too. */
async function cascadeWrites(redis: RedisPort, keys: Keys, templateId: string, now: number, transitions: Transition[]): Promise<DefinitionWrite[]> {
  const writes: DefinitionWrite[] = [];
  for (const event of await eventsUsingTemplate(redis, keys, templateId)) {
    if (event.status !== 'published' && event.status !== 'paused') continue;
    writes.push(...stateWrites(campaignKeys(keys).eventState(event.id), 'unpublished', now));
    transitions.push({ kind: 'event', id: event.id, from: event.status, to: 'unpublished' });
  }
  return writes;
}

/** Plans the actions on a stored template (chosen from its current state). */
export async function planTemplateActions(redis: RedisPort, keys: Keys, id: string, choose: (current: LifecycleStatus) => LifecycleAction[], options: LifecycleOptions): Promise<Plan<TemplateLifecycleResult>> {
  return planTemplateActionsOn(redis, keys, (await getTemplate(redis, keys, id)) ?? notFound('template', id), choose, options);
}

/** The same on a template as it will be stored (its put may be planned in the same commit). */
export async function planTemplateActionsOn(redis: RedisPort, keys: Keys, template: StoredTemplate, choose: (current: LifecycleStatus) => LifecycleAction[], options: LifecycleOptions): Promise<Plan<TemplateLifecycleResult>> {
  const now = options.now ?? Date.now();
  const id = template.id;
  const result: TemplateLifecycleResult = { id, status: template.status, versionCreated: false, transitions: [] };
  if (template.publishedVersion !== undefined) result.version = template.publishedVersion;
  const writes: DefinitionWrite[] = [];
  const stateKey = campaignKeys(keys).templateState(id);
  for (const action of choose(template.status)) {
    const rule = templateRules[action];
    const from = result.status;
    if (rule.same.includes(from)) continue;
    if (!rule.from.includes(from)) forbidden(rule.refuse(`template ${id}`, from), `template ${id}: status`);
    if (action === 'publish') {
      const publish = await publishTemplateWrites(redis, keys, template, now, options.smsMaxSegments ?? defaultSmsMaxSegments);
      if (from === 'published' && !publish.created && result.version === publish.version) continue;
      writes.push(...publish.writes, { op: 'hset', key: stateKey, field: 'version', value: String(publish.version) });
      result.version = publish.version;
      result.versionCreated = publish.created;
    }
    if (from !== rule.to) result.transitions.push({ kind: 'template', id, from, to: rule.to });
    if (action === 'unpublish') writes.push(...(await cascadeWrites(redis, keys, id, now, result.transitions)));
    writes.push(...stateWrites(stateKey, rule.to, now));
    result.status = rule.to;
  }
  return { writes, result };
}

function templateAction(action: LifecycleAction) {
  return (redis: RedisPort, keys: Keys, id: string, options: LifecycleOptions = {}): Promise<TemplateLifecycleResult> =>
    transact(redis, keys, () => planTemplateActions(redis, keys, id, () => [action], options));
}

/**
 * Publishes the template's draft: freezes it as a new version (unless it is the latest version
 * already) and makes that version the one sent. Refused when an event using it is on another
 * channel, or when an sms template renders longer than `smsMaxSegments` with a test profile.
 */
export const publishTemplate = templateAction('publish');
/** published → paused: messages of its events are queued as if the events were paused. */
export const pauseTemplate = templateAction('pause');
export const resumeTemplate = templateAction('resume');
/** published | paused → unpublished, and every published or paused event using it with it. */
export const unpublishTemplate = templateAction('unpublish');

export function applyTemplateStatus(redis: RedisPort, keys: Keys, id: string, desired: DesiredStatus, options: LifecycleOptions = {}): Promise<TemplateLifecycleResult> {
  return transact(redis, keys, () => planTemplateActions(redis, keys, id, (current) => templateActionsToward(current, desired), options));
}

/** Deletes a template that is not published or paused and that no published or paused event uses. */
export function deleteTemplate(redis: RedisPort, keys: Keys, id: string): Promise<void> {
  return transact(redis, keys, () => planTemplateDelete(redis, keys, id));
}

/** The writes deleting a template, or LIFECYCLE_FORBIDDEN / DEFINITION_NOT_FOUND. */
export async function planTemplateDelete(redis: RedisPort, keys: Keys, id: string): Promise<Plan<void>> {
  const k = campaignKeys(keys);
  const [json, state] = await Promise.all([redis.hget(k.templates, id), redis.hgetall(k.templateState(id))]);
  if (json === null) notFound('template', id);
  const { status } = readLifecycle(state);
  if (status === 'published' || status === 'paused') forbidden(`template ${id} is ${status}: unpublish it before deleting`, `template ${id}: status`);
  const users = (await eventsUsingTemplate(redis, keys, id)).filter((event) => event.status === 'published' || event.status === 'paused');
  if (users.length > 0) forbidden(`template ${id} is used by ${users[0]?.status} event ${users[0]?.id}: unpublish the event (or point it at another template) first`, `template ${id}: status`);
  return { writes: templateRemovalWrites(keys, id), result: undefined };
}

// ---------------------------------------------------------------------------------------------
// Applying documents (content and `status:` together)

const declaredStatus = (document: unknown): DesiredStatus | undefined => {
  const status = typeof document === 'object' && document !== null ? (document as { status?: unknown }).status : undefined;
  return status === 'draft' || status === 'published' || status === 'paused' ? status : undefined;
};

/**
 * Stores an event document and, when it says `status:`, moves the event toward it, in one commit.
 * A document without `status:` leaves the lifecycle state as it is (a new event is a draft).
 */
export function applyEvent(redis: RedisPort, keys: Keys, document: unknown, options: LifecycleOptions = {}): Promise<{ outcome: Outcome; lifecycle: EventLifecycleResult }> {
  const now = options.now ?? Date.now();
  return transact(redis, keys, async () => {
    const put = await planEventPut(redis, keys, document, now);
    const desired = declaredStatus(document);
    const id = put.result.event.id;
    const lifecycle: Plan<EventLifecycleResult> =
      desired === undefined
        ? { writes: [], result: { id, status: put.result.event.status, transitions: [], createdTemplate: false } }
        : await planEventActionsOn(redis, keys, put.result.event, (current) => actionsToward(current, desired), now);
    return { writes: [...put.writes, ...lifecycle.writes], result: { outcome: put.result.outcome, lifecycle: lifecycle.result } };
  });
}

/**
 * Stores a template draft and, when the document says `status:`, moves the template toward it
 * (publishing the new draft freezes a new version).
 */
export function applyTemplate(redis: RedisPort, keys: Keys, document: unknown, options: LifecycleOptions = {}): Promise<{ outcome: Outcome; lifecycle: TemplateLifecycleResult }> {
  const now = options.now ?? Date.now();
  return transact(redis, keys, async () => {
    const put = await planTemplatePut(redis, keys, document, now);
    const template = put.result.template;
    const desired = declaredStatus(document);
    const lifecycle: Plan<TemplateLifecycleResult> =
      desired === undefined
        ? { writes: [], result: { id: template.id, status: template.status, ...(template.publishedVersion === undefined ? {} : { version: template.publishedVersion }), versionCreated: false, transitions: [] } }
        : await planTemplateActionsOn(redis, keys, template, (current) => templateActionsToward(current, desired), { ...options, now });
    return { writes: [...put.writes, ...lifecycle.writes], result: { outcome: put.result.outcome, lifecycle: lifecycle.result } };
  });
}

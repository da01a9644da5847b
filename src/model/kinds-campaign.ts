// The campaign kinds for apply and the admin API: Event, Template, TestProfile, planned with the
// stores' own plan functions (event-store.ts, template-store.ts, test-profile.ts, lifecycle.ts)
// so that apply, PUT and the lifecycle endpoints share one set of rules. A document's `status:`
// moves the event or template toward it in the same commit as its content (lifecycle.ts).
import { ReboundError } from '../core/errors.js';
import { bundleKey, sortedById, type DefinitionContext, type DefinitionKind, type DefinitionWrite, type Outcome, type PlannedChange } from './definition-kind.js';
import { parseEvent, type DesiredStatus } from './event.js';
import {
  campaignKeys,
  eventRemovalWrites,
  eventSentField,
  eventsUsingTemplate,
  getEvent,
  loadEvents,
  planEventPut,
  readLifecycle,
  type StoredEvent,
} from './event-store.js';
import { actionsToward, planEventActionsOn, planTemplateActionsOn } from './lifecycle.js';
import { parseTemplate } from './template.js';
import { getTemplate, loadTemplates, planTemplatePut, templateRemovalWrites, type StoredTemplate } from './template-store.js';
import { getTestProfile, loadTestProfiles, parseTestProfile, planTestProfilePut, type StoredTestProfile } from './test-profile.js';

const declaredStatus = (document: unknown): DesiredStatus | undefined => {
  const status = typeof document === 'object' && document !== null ? (document as { status?: unknown }).status : undefined;
  return status === 'draft' || status === 'published' || status === 'paused' ? status : undefined;
};

/** A content outcome, `changed` as well when only the lifecycle state moved. */
const outcomeOf = (content: Outcome, transitions: number): Outcome => (content === 'unchanged' && transitions > 0 ? 'changed' : content);

const hashIds = (key: (ctx: DefinitionContext) => string) => async (ctx: DefinitionContext) => Object.keys(await ctx.redis.hgetall(key(ctx)));

function forbidden(message: string, path: string): never {
  throw new ReboundError('LIFECYCLE_FORBIDDEN', message, { path });
}

export function eventView(event: StoredEvent): Record<string, unknown> {
  const { status, statusAt, everSent, version, createdAt, updatedAt } = event;
  return { ...event.document, status, ...(statusAt === undefined ? {} : { statusAt }), everSent, version, createdAt, updatedAt };
}

export function templateView(template: StoredTemplate): Record<string, unknown> {
  const { status, statusAt, publishedVersion, revision, createdAt, updatedAt } = template;
  return { ...template.document, status, ...(statusAt === undefined ? {} : { statusAt }), ...(publishedVersion === undefined ? {} : { publishedVersion }), revision, createdAt, updatedAt };
}

export const eventKind: DefinitionKind = {
  kind: 'Event',
  resource: 'events',
  validate: parseEvent,
  ids: hashIds(({ keys }) => campaignKeys(keys).events),
  show: async ({ redis, keys }, id) => {
    const event = await getEvent(redis, keys, id);
    return event === undefined ? undefined : eventView(event);
  },
  showAll: async ({ redis, keys }) => (await loadEvents(redis, keys)).events.map(eventView),
  async plan({ redis, keys, now, bundle }, _id, document): Promise<PlannedChange> {
    const put = await planEventPut(redis, keys, document, now);
    const desired = declaredStatus(document);
    if (desired === undefined) return { outcome: put.result.outcome, writes: put.writes };
    const event = put.result.event;
    const lifecycle = await planEventActionsOn(redis, keys, event, (current) => actionsToward(current, desired), now);
    // Publishing creates a missing template as a skeleton; not when the bundle brings the template.
    const templates = campaignKeys(keys).templates;
    const brought = bundle?.has(bundleKey('Template', event.template)) === true;
    const writes = lifecycle.writes.filter((w) => !(brought && w.op === 'hset' && w.key === templates && w.field === event.template));
    return { outcome: outcomeOf(put.result.outcome, lifecycle.result.transitions.length), writes: [...put.writes, ...writes] };
  },
  // The rules of lifecycle.ts deleteEvent, as a plan: a draft, or unpublished and never sent.
  async planDelete({ redis, keys }, id): Promise<DefinitionWrite[] | undefined> {
    const k = campaignKeys(keys);
    const [json, state] = await Promise.all([redis.hget(k.events, id), redis.hgetall(k.eventState(id))]);
    if (json === null) return undefined;
    const { status } = readLifecycle(state);
    if (status === 'published' || status === 'paused') forbidden(`event ${id} is ${status}: unpublish it before deleting`, `event ${id}: status`);
    if (status === 'unpublished' && state[eventSentField] !== undefined) forbidden(`event ${id} has sent messages: it can be unpublished, not deleted`, `event ${id}: status`);
    return eventRemovalWrites(keys, id);
  },
};

export const templateKind: DefinitionKind = {
  kind: 'Template',
  resource: 'templates',
  validate: parseTemplate,
  ids: hashIds(({ keys }) => campaignKeys(keys).templates),
  show: async ({ redis, keys }, id) => {
    const template = await getTemplate(redis, keys, id);
    return template === undefined ? undefined : templateView(template);
  },
  showAll: async ({ redis, keys }) => (await loadTemplates(redis, keys)).templates.map(templateView),
  async plan({ redis, keys, now, smsMaxSegments }, _id, document): Promise<PlannedChange> {
    const put = await planTemplatePut(redis, keys, document, now);
    const desired = declaredStatus(document);
    if (desired === undefined) return { outcome: put.result.outcome, writes: put.writes };
    const options = { now, ...(smsMaxSegments === undefined ? {} : { smsMaxSegments }) };
    const lifecycle = await planTemplateActionsOn(redis, keys, put.result.template, (current) => actionsToward(current, desired), options);
    return { outcome: outcomeOf(put.result.outcome, lifecycle.result.transitions.length + (lifecycle.result.versionCreated ? 1 : 0)), writes: [...put.writes, ...lifecycle.writes] };
  },
  // The rules of lifecycle.ts deleteTemplate, as a plan.
  async planDelete({ redis, keys }, id): Promise<DefinitionWrite[] | undefined> {
    const k = campaignKeys(keys);
    const [json, state] = await Promise.all([redis.hget(k.templates, id), redis.hgetall(k.templateState(id))]);
    if (json === null) return undefined;
    const { status } = readLifecycle(state);
    if (status === 'published' || status === 'paused') forbidden(`template ${id} is ${status}: unpublish it before deleting`, `template ${id}: status`);
    const users = (await eventsUsingTemplate(redis, keys, id)).filter((event) => event.status === 'published' || event.status === 'paused');
    if (users.length > 0) forbidden(`template ${id} is used by ${users[0]?.status} event ${users[0]?.id}: unpublish the event (or point it at another template) first`, `template ${id}: status`);
    return templateRemovalWrites(keys, id);
  },
};

function testProfileView(testProfile: StoredTestProfile): Record<string, unknown> {
  return { ...testProfile };
}

export const testProfileKind: DefinitionKind = {
  kind: 'TestProfile',
  resource: 'test-profiles',
  validate: parseTestProfile,
  ids: hashIds(({ keys }) => campaignKeys(keys).testProfiles),
  show: async ({ redis, keys }, id) => {
    const testProfile = await getTestProfile(redis, keys, id);
    return testProfile === undefined ? undefined : testProfileView(testProfile);
  },
  showAll: async ({ redis, keys }) => sortedById((await loadTestProfiles(redis, keys)).testProfiles.map((t): [string, StoredTestProfile] => [t.id, t])).map(([, t]) => testProfileView(t)),
  async plan({ redis, keys, now }, _id, document) {
    const put = await planTestProfilePut(redis, keys, document, now);
    return { outcome: put.result.outcome, writes: put.writes };
  },
  async planDelete({ redis, keys }, id) {
    const key = campaignKeys(keys).testProfiles;
    const json = await redis.hget(key, id);
    return json === null ? undefined : [{ op: 'hdel', key, field: id }];
  },
};

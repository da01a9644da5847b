// The campaign kinds for apply and the admin API: Event, Template, TestProfile, planned with the
// stores' own plan functions (event-store.ts, template-store.ts, test-profile.ts, lifecycle.ts)
// so that apply, PUT and the lifecycle endpoints share one set of rules. A document's `status:`
// moves the event or template toward it in the same commit as its content (lifecycle.ts).
import { bundleKey, sortedById, type DefinitionContext, type DefinitionKind, type Outcome, type PlannedChange } from './definition-kind.js';
import { parseEvent, type DesiredStatus } from './event.js';
import { campaignKeys, getEvent, loadEvents, planEventPut, type StoredEvent } from './event-store.js';
import { actionsToward, planEventActionsOn, planEventDelete, planTemplateActionsOn, planTemplateDelete, templateActionsToward } from './lifecycle.js';
import { parseTemplate } from './template.js';
import { getTemplate, loadTemplates, planTemplatePut, type StoredTemplate } from './template-store.js';
import { getTestProfile, loadTestProfiles, parseTestProfile, planTestProfilePut, type StoredTestProfile } from './test-profile.js';

const declaredStatus = (document: unknown): DesiredStatus | undefined => {
  const status = typeof document === 'object' && document !== null ? (document as { status?: unknown }).status : undefined;
  return status === 'draft' || status === 'published' || status === 'paused' ? status : undefined;
};

/** A content outcome, `changed` as well when only the lifecycle state moved. */
const outcomeOf = (content: Outcome, transitions: number): Outcome => (content === 'unchanged' && transitions > 0 ? 'changed' : content);

const hashIds = (key: (ctx: DefinitionContext) => string) => async (ctx: DefinitionContext) => Object.keys(await ctx.redis.hgetall(key(ctx)));

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
  planDelete: async ({ redis, keys }, id) => ((await redis.hget(campaignKeys(keys).events, id)) === null ? undefined : (await planEventDelete(redis, keys, id)).writes),
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
    const lifecycle = await planTemplateActionsOn(redis, keys, put.result.template, (current) => templateActionsToward(current, desired), options);
    return { outcome: outcomeOf(put.result.outcome, lifecycle.result.transitions.length + (lifecycle.result.versionCreated ? 1 : 0)), writes: [...put.writes, ...lifecycle.writes] };
  },
  planDelete: async ({ redis, keys }, id) => ((await redis.hget(campaignKeys(keys).templates, id)) === null ? undefined : (await planTemplateDelete(redis, keys, id)).writes),
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

// The campaign stage's view of the definitions (SPEC §6.1, §6.5): an immutable snapshot of every
// event with its effective status and the published template version it sends, compiled once,
// and the test profiles. `loadCampaignDefinitions` builds it from Redis (the DefinitionsWatcher
// reloads it on every definitions change); compiled versions are reused across reloads, keyed
// by `id@version` (a frozen version never changes), so a reload does not recompile. A stored
// record that no longer validates is skipped and reported, never fatal.
import type { Logger } from '../core/log.js';
import type { RedisPort } from '../core/redis/client.js';
import type { Keys } from '../core/redis/keys.js';
import { campaignKeys, loadEvents, readLifecycle, type LifecycleStatus, type StoredEvent } from './event-store.js';
import type { ChannelName } from './message.js';
import { compileTemplate, type CompiledTemplate } from './render.js';
import { parseTemplate, type TemplateDefinition } from './template.js';
import { readTemplateVersion } from './template-store.js';
import { loadTestProfiles, type TestProfileDefinition } from './test-profile.js';

export interface PublishedTemplate {
  readonly id: string;
  readonly version: number;
  readonly channel: ChannelName;
  readonly from?: string;
  readonly replyTo?: string;
  readonly publishedAt: number;
  readonly definition: TemplateDefinition;
  readonly compiled: CompiledTemplate;
}

export interface CampaignEvent extends Omit<StoredEvent, 'status' | 'template' | 'document'> {
  /**
   * Effective status: `published` when the event and its template are published (messages are
   * sent); `paused` when the event is paused, or published while its template is not (paused, or
   * not published yet): messages are queued, bounded by validity; otherwise the event's own
   * `draft` / `unpublished` (not routed).
   */
  readonly status: LifecycleStatus;
  readonly eventStatus: LifecycleStatus;
  readonly templateId: string;
  /** `draft` also when the template does not exist yet. */
  readonly templateStatus: LifecycleStatus;
  /** The template version current for this event, when its template is published or paused. */
  readonly template: PublishedTemplate | undefined;
}

export interface InvalidDefinition {
  kind: 'Event' | 'Template' | 'TestProfile';
  id: string;
  error: string;
}

export interface CampaignDefinitions {
  /** Every stored event that validates, by id. */
  readonly events: readonly CampaignEvent[];
  event(id: string): CampaignEvent | undefined;
  /**
   * The published or paused events of a trigger message: those whose `trigger:` is its
   * `triggerName` or its `triggerId`. Empty → the message is routingFailed. Do not modify.
   */
  eventsFor(message: { triggerName: string; triggerId: string }): CampaignEvent[];
  readonly testProfiles: ReadonlyMap<string, TestProfileDefinition>;
  readonly invalid: readonly InvalidDefinition[];
}

/** Compiled published versions by `id@version`, kept across reloads (bounded by the last load's use). */
export class CompiledTemplateCache {
  readonly #entries = new Map<string, { json: string; template: PublishedTemplate }>();

  /** The cached template when its frozen JSON is the same, else `build()` (cached). */
  get(key: string, json: string, build: () => PublishedTemplate): PublishedTemplate {
    const entry = this.#entries.get(key);
    if (entry !== undefined && entry.json === json) return entry.template;
    const template = build();
    this.#entries.set(key, { json, template });
    return template;
  }

  /** Drops the versions the last load did not use. */
  retain(used: ReadonlySet<string>): void {
    for (const key of this.#entries.keys()) if (!used.has(key)) this.#entries.delete(key);
  }
}

/** One cache per installation (per Keys object): what a DefinitionsWatcher's reloads share. */
const caches = new WeakMap<Keys, CompiledTemplateCache>();
function defaultCache(keys: Keys): CompiledTemplateCache {
  let cache = caches.get(keys);
  if (cache === undefined) caches.set(keys, (cache = new CompiledTemplateCache()));
  return cache;
}

export interface LoadOptions {
  /** Skipped records are logged here (warn), besides being listed in `invalid`. */
  logger?: Logger;
  cache?: CompiledTemplateCache;
}

interface TemplateView {
  status: LifecycleStatus;
  template: PublishedTemplate | undefined;
}

async function loadTemplateView(redis: RedisPort, keys: Keys, id: string, cache: CompiledTemplateCache, used: Set<string>, invalid: InvalidDefinition[]): Promise<TemplateView> {
  const k = campaignKeys(keys);
  const state = await redis.hgetall(k.templateState(id));
  const { status } = readLifecycle(state);
  const version = Number(state.version);
  if ((status !== 'published' && status !== 'paused') || !Number.isInteger(version) || version < 1) return { status, template: undefined };
  const json = await redis.hget(k.templateVersions(id), String(version));
  const frozen = json === null ? undefined : readTemplateVersion(id, version, json);
  if (json === null || frozen === undefined) {
    invalid.push({ kind: 'Template', id: `${id}@${version}`, error: `published version ${version} of template ${id} is missing or not a record` });
    return { status, template: undefined };
  }
  const key = `${id}@${version}`;
  try {
    const template = cache.get(key, json, () => compile(frozen.document, id, version, frozen.publishedAt));
    used.add(key);
    return { status, template };
  } catch (err) {
    invalid.push({ kind: 'Template', id: key, error: (err as Error).message });
    return { status, template: undefined };
  }
}

function compile(document: unknown, id: string, version: number, publishedAt: number): PublishedTemplate {
  const definition = parseTemplate(document, `template ${id} version ${version}`);
  const template: PublishedTemplate = {
    id,
    version,
    channel: definition.channel,
    ...(definition.from === undefined ? {} : { from: definition.from }),
    ...(definition.replyTo === undefined ? {} : { replyTo: definition.replyTo }),
    publishedAt,
    definition,
    compiled: compileTemplate(definition),
  };
  return Object.freeze(template);
}

function effectiveStatus(event: LifecycleStatus, view: TemplateView): LifecycleStatus {
  if (event !== 'published') return event;
  return view.status === 'published' && view.template !== undefined ? 'published' : 'paused';
}

function toCampaignEvent(stored: StoredEvent, view: TemplateView): CampaignEvent {
  const { status, template, document: _document, ...rest } = stored;
  const usable = view.template !== undefined && view.template.channel === stored.channel ? view.template : undefined;
  const effective = effectiveStatus(status, { status: view.status, template: usable });
  return Object.freeze({ ...rest, status: effective, eventStatus: status, templateId: template, templateStatus: view.status, template: usable });
}

export async function loadCampaignDefinitions(redis: RedisPort, keys: Keys, options: LoadOptions = {}): Promise<CampaignDefinitions> {
  const cache = options.cache ?? defaultCache(keys);
  const [stored, profiles] = await Promise.all([loadEvents(redis, keys), loadTestProfiles(redis, keys)]);
  const invalid: InvalidDefinition[] = [...stored.invalid.map((i) => ({ kind: 'Event' as const, ...i })), ...profiles.invalid.map((i) => ({ kind: 'TestProfile' as const, ...i }))];
  const used = new Set<string>();
  const templateIds = [...new Set(stored.events.map((event) => event.template))];
  const views = new Map(await Promise.all(templateIds.map(async (id) => [id, await loadTemplateView(redis, keys, id, cache, used, invalid)] as const)));
  cache.retain(used);

  const events = stored.events.map((event) => toCampaignEvent(event, views.get(event.template) ?? { status: 'draft', template: undefined }));
  const byId = new Map(events.map((event) => [event.id, event]));
  const byTrigger = new Map<string, CampaignEvent[]>();
  for (const event of events) {
    if (event.status !== 'published' && event.status !== 'paused') continue;
    const list = byTrigger.get(event.trigger) ?? [];
    list.push(event);
    byTrigger.set(event.trigger, list);
  }
  for (const entry of invalid) options.logger?.warn({ kind: entry.kind, id: entry.id, err: entry.error }, 'campaign definition skipped: it does not validate');
  const none: CampaignEvent[] = [];
  return Object.freeze({
    events: Object.freeze(events),
    event: (id: string) => byId.get(id),
    eventsFor({ triggerName, triggerId }: { triggerName: string; triggerId: string }): CampaignEvent[] {
      const byName = byTrigger.get(triggerName) ?? none;
      const byTriggerId = triggerId === triggerName ? none : (byTrigger.get(triggerId) ?? none);
      return byTriggerId.length === 0 ? byName : byName.length === 0 ? byTriggerId : [...byName, ...byTriggerId];
    },
    testProfiles: new Map(profiles.testProfiles.map((tp) => [tp.id, tp] as const)),
    invalid: Object.freeze(invalid),
  });
}

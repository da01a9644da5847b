// A campaign event (SPEC §6.1, Adobe §3.3/§3.5): which trigger it handles, on which channel, how
// the recipient is found (reconciliation or the payload), which datamart rows enrich it, its
// validity and typology, and its template. `parseEvent` validates a `kind: Event` document and
// reports every problem with its path in one EVENT_INVALID error. Also the context paths events
// write (`ctx.products[].sku`), parsed once and read through own properties only. Longer than most
// files because the cross-field rules (targeting ↔ recipient, fatigue, path roots) belong with the
// schema they refine.
import { z } from 'zod';
import { parseDuration } from '../core/duration.js';
import { ReboundError } from '../core/errors.js';
import type { ChannelName } from './message.js';

export type Targeting = 'profile' | 'event';
/** The lifecycle state a document asks for (`status:` in YAML). */
export type DesiredStatus = 'draft' | 'published' | 'paused';
export type ReconciliationSource = { alias: string; profileField: string; hash?: 'sha256' } | { visitorLink: true };

/** A context path: `ctx.products[].sku` → root `ctx`, segments `[products]`, list, rest `[sku]`. */
export interface ParsedPath {
  /** The path as written. */
  readonly text: string;
  readonly root: string;
  /** Segments after the root, up to the list marker (all of them when there is none). */
  readonly segments: readonly string[];
  /** True when the path goes through a list (`[]`): it is read on each item. */
  readonly list: boolean;
  /** Segments read on each item of the list. */
  readonly rest: readonly string[];
}

export interface EnrichmentStep {
  name: string;
  resource: string;
  /** As written: `{<resource key field>: <path>}`, exactly one entry. */
  join: Record<string, string>;
  /** The resource's key field and the parsed path of the join. */
  key: string;
  path: ParsedPath;
  required: boolean;
}

export interface FatigueRule {
  max: number;
  /** Sliding window, ms. */
  per: number;
  channel: ChannelName | 'all';
}

export interface QuietHours {
  from: string;
  to: string;
  action: 'delay' | 'drop';
}

export interface EventDefinition {
  kind: 'Event';
  id: string;
  description?: string;
  /** A trigger's name (its slug, `triggerName` of a message) or its `triggerId`. */
  trigger: string;
  channel: ChannelName;
  targeting: Targeting;
  reconciliation: ReconciliationSource[];
  /** Event-based only: where the address is in the payload (one of email/phone, per channel). */
  recipient?: { email?: string; phone?: string; path: ParsedPath };
  enrichment: EnrichmentStep[];
  validityMs: number;
  /** Fire-to-send budget of this event (rebound_budget_exceeded_total); deliver.budget when absent. */
  budgetMs?: number;
  fatigue: FatigueRule[];
  quietHours?: QuietHours;
  template: string;
  status: DesiredStatus;
}

export const eventLimits = {
  idChars: 64,
  reconciliation: 10,
  enrichment: 20,
  fatigueRules: 10,
  pathChars: 256,
  defaultValidity: '2d',
  minValidityMs: 1000,
  maxValidityMs: 30 * 86_400_000,
  minFatigueMs: 60_000,
  maxFatigueMs: 90 * 86_400_000,
} as const;

// ---------------------------------------------------------------------------------------------
// Paths

/** Segments that would reach an object's prototype or its accessors (`__proto__`, `constructor`, …). */
const forbiddenSegments = new Set([...Object.getOwnPropertyNames(Object.prototype), 'prototype']);
const segmentPattern = /^[A-Za-z0-9_-]+$/;
const partPattern = /^([^[\]]*)(\[\])?$/;

/** Why `text` is not a context path, or its parsed form. */
export function parsePathOrProblem(text: string): ParsedPath | string {
  if (text.length === 0 || text.length > eventLimits.pathChars) return `a path has 1 to ${eventLimits.pathChars} characters`;
  const parts = text.split('.');
  if (parts.length < 2) return `"${text}" is not a path: write <root>.<field>, e.g. ctx.dims.eVar9 or profile.storeId`;
  const names: string[] = [];
  let listAt: number | undefined;
  for (const [i, part] of parts.entries()) {
    const match = partPattern.exec(part);
    if (match === null) return `"${part}": only [] (each item of a list) may follow a name; indexes are not supported`;
    const name = match[1] ?? '';
    if (name === '') return `"${text}" has an empty segment`;
    if (!segmentPattern.test(name)) return `"${name}" is not a field name (letters, digits, _ and -)`;
    if (forbiddenSegments.has(name)) return `"${text}" reaches "${name}", which is not accessible`;
    if (match[2] !== undefined) {
      if (listAt !== undefined) return 'lists of lists are not supported: at most one [] in a path';
      listAt = i;
    }
    names.push(name);
  }
  const [root = '', ...after] = names;
  if (listAt === undefined) return Object.freeze({ text, root, segments: Object.freeze(after), list: false, rest: Object.freeze([]) });
  return Object.freeze({ text, root, segments: Object.freeze(after.slice(0, listAt)), list: true, rest: Object.freeze(after.slice(listAt)) });
}

/** Parses a path once (throws EVENT_INVALID when it is not one). */
export function parsePath(text: string): ParsedPath {
  const parsed = parsePathOrProblem(text);
  if (typeof parsed === 'string') throw new ReboundError('EVENT_INVALID', `invalid path:\n  (top level): ${parsed}`, { path: text });
  return parsed;
}

function walk(value: unknown, segments: readonly string[]): unknown {
  let current = value;
  for (const segment of segments) {
    if (typeof current !== 'object' || current === null || !Object.hasOwn(current, segment)) return undefined;
    current = (current as Record<string, unknown>)[segment];
  }
  return current;
}

/**
 * The value at `path` in `context` (`{ctx, profile, <enrichment>: …}`), own properties only: a
 * prototype is never reached, whatever the data. For a list path, one value per item of the
 * list (undefined where an item lacks it), or undefined when the list is not an array.
 */
export function readPath(context: unknown, path: ParsedPath): unknown {
  const base = walk(context, [path.root, ...path.segments]);
  if (!path.list) return base;
  return Array.isArray(base) ? base.map((item: unknown) => walk(item, path.rest)) : undefined;
}

// ---------------------------------------------------------------------------------------------
// Schema

const eventId = /^EVT[A-Za-z0-9_-]{1,61}$/;
const slug = /^[a-z0-9][a-z0-9-]{0,63}$/;
const fieldName = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;
const enrichmentName = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;
const resourceName = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;
const aliasName = /^[A-Za-z0-9_.:-]{1,100}$/;
const clock = /^([01]\d|2[0-3]):[0-5]\d$/;
/** Names the template context gives already (SPEC §6.5): an enrichment cannot take them. */
const reservedNames = new Set(['ctx', 'profile', 'event', 'links']);

function issue(ctx: z.RefinementCtx, message: string, path: Array<string | number> = []): void {
  ctx.addIssue({ code: z.ZodIssueCode.custom, message, path });
}

const durationOf = (label: string, minMs: number, maxMs: number) =>
  z.string().transform((text, ctx) => {
    const ms = parseDuration(text);
    if (ms === undefined) issue(ctx, `"${text}" is not a duration such as 30m, 12h or 2d`);
    else if (ms < minMs || ms > maxMs) issue(ctx, `${label} goes from ${formatMs(minMs)} to ${formatMs(maxMs)}`);
    return ms ?? 0;
  });

function formatMs(ms: number): string {
  for (const [unit, size] of [['d', 86_400_000], ['h', 3_600_000], ['m', 60_000], ['s', 1000]] as const) if (ms % size === 0) return `${ms / size}${unit}`;
  return `${ms}ms`;
}

const channel = z.string().transform((value, ctx): ChannelName => {
  if (value === 'push') issue(ctx, 'push notifications are not supported for triggers; use email or sms');
  else if (value !== 'email' && value !== 'sms') issue(ctx, 'a channel is email or sms');
  return value as ChannelName;
});

const reconciliationItem = z
  .object({
    alias: z.string().regex(aliasName, 'an alias name: letters, digits, _ . : - (at most 100)').optional(),
    profileField: z.string().regex(fieldName, 'a profile field name (letters, digits, _)').refine((name) => !forbiddenSegments.has(name), 'not accessible').optional(),
    hash: z.enum(['sha256'], { message: 'the only supported hash is sha256' }).optional(),
    visitorLink: z.literal(true, { message: 'visitorLink is true or absent' }).optional(),
  })
  .strict()
  .superRefine((item, ctx) => {
    if (item.visitorLink === true) {
      if (item.alias !== undefined || item.profileField !== undefined || item.hash !== undefined) issue(ctx, '{visitorLink: true} stands alone (no alias, profileField or hash)');
      return;
    }
    if (item.alias === undefined) issue(ctx, 'a reconciliation source is {alias, profileField, hash?} or {visitorLink: true}', ['alias']);
    if (item.profileField === undefined) issue(ctx, 'which profile field the alias matches (id, email, …)', ['profileField']);
  })
  .transform((item): ReconciliationSource => {
    if (item.visitorLink === true) return { visitorLink: true };
    return { alias: item.alias ?? '', profileField: item.profileField ?? '', ...(item.hash === undefined ? {} : { hash: item.hash }) };
  });

const enrichmentItem = z
  .object({
    name: z.string().regex(enrichmentName, 'a name usable in templates (letters, digits, _)'),
    resource: z.string().regex(resourceName, 'a resource name (catalog, stores, …)'),
    join: z.record(z.string(), z.string()),
    required: z.boolean().default(false),
  })
  .strict();

const fatigueRule = z
  .object({
    max: z.number().int().min(1).max(1000),
    per: durationOf('a fatigue window', eventLimits.minFatigueMs, eventLimits.maxFatigueMs),
    channel: z.enum(['email', 'sms', 'all']).default('all'),
  })
  .strict();

const quietHours = z
  .object({
    from: z.string().regex(clock, 'a time of day HH:MM (00:00 … 23:59)'),
    to: z.string().regex(clock, 'a time of day HH:MM (00:00 … 23:59)'),
    action: z.enum(['delay', 'drop']).default('delay'),
  })
  .strict()
  .refine((q) => q.from !== q.to, { message: 'from and to are the same time: the window would be empty', path: ['to'] });

export const eventSchema = z
  .object({
    kind: z.literal('Event'),
    id: z.string().regex(eventId, 'an event id starts with EVT and has at most 64 characters (letters, digits, _ and -), e.g. EVTcartAbandonment'),
    description: z.string().max(2000).optional(),
    trigger: z
      .string()
      .min(1)
      .max(256)
      .refine((name) => !/\p{Cc}/u.test(name), 'no control characters'),
    channel,
    targeting: z.enum(['profile', 'event']),
    reconciliation: z.array(reconciliationItem).max(eventLimits.reconciliation).default([]),
    recipient: z.object({ email: z.string().optional(), phone: z.string().optional() }).strict().optional(),
    enrichment: z.array(enrichmentItem).max(eventLimits.enrichment).default([]),
    validity: durationOf('validity', eventLimits.minValidityMs, eventLimits.maxValidityMs).default(eventLimits.defaultValidity),
    budget: durationOf('budget', 1000, eventLimits.maxValidityMs).optional(),
    typology: z
      .object({ fatigue: z.array(fatigueRule).max(eventLimits.fatigueRules).default([]), quietHours: quietHours.optional() })
      .strict()
      .default({}),
    template: z.string().regex(slug, 'a template id: lower-case letters, digits and -, at most 64'),
    status: z.enum(['draft', 'published', 'paused']).default('draft'),
  })
  .strict()
  .superRefine((event, ctx) => {
    checkTargeting(event, ctx);
    checkEnrichment(event, ctx);
  });

/** An event as written in YAML or JSON (durations as strings). */
export type EventDocument = z.input<typeof eventSchema>;
type ParsedEvent = z.output<typeof eventSchema>;

function checkTargeting(event: ParsedEvent, ctx: z.RefinementCtx): void {
  const seen = new Set<string>();
  event.reconciliation.forEach((source, i) => {
    const key = JSON.stringify(source);
    if (seen.has(key)) issue(ctx, 'this source is listed twice', ['reconciliation', i]);
    seen.add(key);
  });
  if (event.targeting === 'profile') {
    if (event.reconciliation.length === 0) issue(ctx, 'a profile-based event needs at least one reconciliation source ({alias, profileField} or {visitorLink: true})', ['reconciliation']);
    if (event.recipient !== undefined) issue(ctx, "recipient is for targeting: event; a profile-based event sends to the profile's email or phone", ['recipient']);
    return;
  }
  if (event.typology.fatigue.length > 0) issue(ctx, 'fatigue rules apply to profile-based events only (targeting: profile), as in Adobe Campaign', ['typology', 'fatigue']);
  if (event.typology.quietHours !== undefined) issue(ctx, "quiet hours apply to profile-based events only (targeting: profile): they use the profile's timezone", ['typology', 'quietHours']);
  const want = event.channel === 'sms' ? 'phone' : 'email';
  const given = Object.entries(event.recipient ?? {}).filter(([, path]) => path !== undefined);
  if (given.length !== 1 || given[0]?.[0] !== want) {
    issue(ctx, `an event-based ${event.channel} event takes its address from the payload: recipient: {${want}: <path>}, e.g. {${want}: ctx.dims.eVar9}`, ['recipient']);
    return;
  }
  const parsed = parsePathOrProblem(given[0]?.[1] ?? '');
  if (typeof parsed === 'string') issue(ctx, parsed, ['recipient', want]);
  else if (parsed.root !== 'ctx') issue(ctx, 'the recipient is read from the payload: a path starting with ctx.', ['recipient', want]);
  else if (parsed.list) issue(ctx, 'a recipient is one address, not a list', ['recipient', want]);
}

function checkEnrichment(event: ParsedEvent, ctx: z.RefinementCtx): void {
  const all = new Set(event.enrichment.map((step) => step.name));
  const earlier = new Map<string, 'row' | 'list'>();
  const profileAvailable = event.targeting === 'profile' || event.reconciliation.length > 0;
  event.enrichment.forEach((step, i) => {
    if (reservedNames.has(step.name)) issue(ctx, `"${step.name}" is a name templates have already (ctx, profile, event, links)`, ['enrichment', i, 'name']);
    else if (earlier.has(step.name)) issue(ctx, `the name "${step.name}" is used twice`, ['enrichment', i, 'name']);
    const entries = Object.entries(step.join);
    if (entries.length !== 1) issue(ctx, 'a join maps the resource key field to one path, e.g. join: {sku: ctx.products[].sku}', ['enrichment', i, 'join']);
    let shape: 'row' | 'list' = 'row';
    for (const [key, text] of entries) {
      const at = ['enrichment', i, 'join', key];
      if (!fieldName.test(key) || forbiddenSegments.has(key)) issue(ctx, `"${key}" is not a resource key field name`, at);
      const problem = joinPathProblem(text, earlier, all, profileAvailable);
      if (typeof problem === 'string') issue(ctx, problem, at);
      else if (problem.list) shape = 'list';
    }
    if (!earlier.has(step.name)) earlier.set(step.name, shape);
  });
}

/** Why a join path cannot be used, or the parsed path. */
function joinPathProblem(text: string, earlier: ReadonlyMap<string, 'row' | 'list'>, all: ReadonlySet<string>, profileAvailable: boolean): ParsedPath | string {
  const path = parsePathOrProblem(text);
  if (typeof path === 'string') return path;
  const { root } = path;
  if (root === 'ctx') return path;
  if (root === 'profile') return profileAvailable ? path : 'profile is not available: this event-based event has no reconciliation source';
  const shape = earlier.get(root);
  if (shape === undefined) {
    if (all.has(root)) return `enrichment "${root}" comes later: a join may use ctx, profile or an earlier enrichment`;
    return `unknown root "${root}": a path starts with ctx., profile. or an earlier enrichment's name`;
  }
  if (shape === 'list' && !(path.list && path.segments.length === 0)) {
    return path.list ? `${root} is a list already: lists of lists are not supported` : `${root} is a list (one row per item): write ${root}[].<field>`;
  }
  if (shape === 'row' && path.list && path.segments.length === 0) return `${root} is one row, not a list`;
  return path;
}

// ---------------------------------------------------------------------------------------------
// Parsing

/** Paths of `__proto__` / `constructor` / `prototype` keys anywhere in a document. */
export function unsafeKeyPaths(value: unknown, path: string[] = [], found: string[] = [], depth = 0): string[] {
  if (typeof value !== 'object' || value === null || depth > 32) return found;
  for (const key of Object.keys(value)) {
    const at = [...path, key];
    if (key === '__proto__' || key === 'constructor' || key === 'prototype') found.push(at.join('.'));
    else unsafeKeyPaths((value as Record<string, unknown>)[key], at, found, depth + 1);
  }
  return found;
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}

function toDefinition(parsed: ParsedEvent): EventDefinition {
  const definition: EventDefinition = {
    kind: 'Event',
    id: parsed.id,
    trigger: parsed.trigger,
    channel: parsed.channel,
    targeting: parsed.targeting,
    reconciliation: parsed.reconciliation,
    enrichment: parsed.enrichment.map((step) => {
      const [key = '', text = ''] = Object.entries(step.join)[0] ?? [];
      return { name: step.name, resource: step.resource, join: { [key]: text }, key, path: parsePath(text), required: step.required };
    }),
    validityMs: parsed.validity,
    fatigue: parsed.typology.fatigue,
    template: parsed.template,
    status: parsed.status,
  };
  if (parsed.description !== undefined) definition.description = parsed.description;
  if (parsed.budget !== undefined) definition.budgetMs = parsed.budget;
  if (parsed.typology.quietHours !== undefined) definition.quietHours = parsed.typology.quietHours;
  const recipient = parsed.recipient;
  if (recipient?.email !== undefined) definition.recipient = { email: recipient.email, path: parsePath(recipient.email) };
  if (recipient?.phone !== undefined) definition.recipient = { phone: recipient.phone, path: parsePath(recipient.phone) };
  return deepFreeze(definition);
}

export function parseEvent(document: unknown, origin = 'event'): EventDefinition {
  const problems = unsafeKeyPaths(document).map((path) => `  ${path}: prototype keys are refused`);
  const result = eventSchema.safeParse(document);
  if (!result.success) problems.push(...result.error.issues.map((i) => `  ${i.path.join('.') || '(top level)'}: ${i.message}`));
  if (problems.length === 0 && result.success) return toDefinition(result.data);
  const first = problems[0]?.trim().split(':')[0] ?? '';
  throw new ReboundError('EVENT_INVALID', `invalid ${origin}:\n${problems.join('\n')}`, { path: `${origin}: ${first}` });
}

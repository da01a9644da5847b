// A trigger (SPEC §5, Adobe §1.3): which hits of one source make a visit qualify, which exclude
// it, and what is copied into the message. `parseTrigger` validates a `kind: Trigger` document and
// reports every problem with its path in one TRIGGER_INVALID error. Longer than most files because
// the condition rules (operator ↔ value, names, regex safety) belong with the schema they refine.
import safeRegex from 'safe-regex2';
import { z } from 'zod';
import { parseDuration } from '../core/duration.js';
import { ReboundError } from '../core/errors.js';
import { isSafeKey } from './hit.js';

export type MetricOp = 'exists' | 'gte' | 'lte' | 'eq';
export type DimensionOp = 'eq' | 'neq' | 'contains' | 'notContains' | 'startsWith' | 'endsWith' | 'matches' | 'in' | 'exists' | 'gt' | 'gte' | 'lt' | 'lte';
export interface MetricCondition {
  metric: string;
  op: MetricOp;
  value?: number;
  scope: 'hit' | 'visit';
}
export interface DimensionCondition {
  dimension: string;
  op: DimensionOp;
  value?: string | number | Array<string | number>;
}
export type Condition = MetricCondition | DimensionCondition;
export interface ContainerGroup {
  match: 'all' | 'any';
  containers: Condition[][];
}
export type TriggerType = 'abandonment' | 'action' | 'sessionStart' | 'sessionEnd';
export interface TriggerDefinition {
  kind: 'Trigger';
  id: string;
  name: string;
  description?: string;
  source: string;
  type: TriggerType;
  include: ContainerGroup;
  exclude: ContainerGroup;
  inactivityMs: number;
  metadata: string[];
  enabled: boolean;
}

export const metricOps: readonly MetricOp[] = ['exists', 'gte', 'lte', 'eq'];
export const dimensionOps: readonly DimensionOp[] = ['eq', 'neq', 'contains', 'notContains', 'startsWith', 'endsWith', 'matches', 'in', 'exists', 'gt', 'gte', 'lt', 'lte'];
const numericOps = new Set<DimensionOp>(['gt', 'gte', 'lt', 'lte']);

export const triggerLimits = {
  containers: 20,
  conditionsPerContainer: 20,
  inValues: 1000,
  metadata: 50,
  patternChars: 512,
  minInactivityMs: 1000,
  maxInactivityMs: 4 * 3_600_000,
} as const;

/** Names read from the hit itself (hit-values.ts); every other name is a key of `hit.dims`. */
export const hitFieldDimensions: readonly string[] = ['pageName', 'pageURL', 'referrer', 'searchTerm', 'product', 'category'];

const slug = /^[a-z0-9][a-z0-9-]{0,63}$/;
/** Same rule as a source id (source.ts): the report suite id. */
const sourceId = /^[A-Za-z0-9_.-]{1,100}$/;
/** A dims key: a word, then `.`-separated path segments (`properties.cart.total`, `context.page.path`). */
const dimensionPattern = /^[A-Za-z_][A-Za-z0-9_-]*(\.[^.\s]+)*$/;

/** Why a dimension name is not one, or undefined when it is. */
export function dimensionNameProblem(name: string): string | undefined {
  if (name.length > 200 || !dimensionPattern.test(name)) return `"${name}" is not a dimension name (pageName, eVar3, prop7, properties.<path>, context.<path>, …)`;
  if (name.split('.').some((part) => !isSafeKey(part))) return `"${name}" contains a prototype key`;
  const numbered = /^(eVar|prop)(\d+)$/.exec(name);
  const max = numbered?.[1] === 'eVar' ? 250 : 75;
  if (numbered && (Number(numbered[2]) < 1 || Number(numbered[2]) > max)) return `${numbered[1]} numbers go from 1 to ${max}`;
  if (name === 'products') return 'use `product` (the skus) or `category` in a condition; `products` is metadata only';
  return undefined;
}

const scalar = z.union([z.string().max(4096), z.number().finite()]);
const metricName = z
  .string()
  .min(1)
  .max(100)
  .refine(isSafeKey, 'prototype keys are refused');
const dimensionName = z.string().superRefine((name, ctx) => {
  const problem = dimensionNameProblem(name);
  if (problem !== undefined) ctx.addIssue({ code: z.ZodIssueCode.custom, message: problem });
});

const rawCondition = z
  .object({
    metric: metricName.optional(),
    dimension: dimensionName.optional(),
    op: z.string(),
    value: z.union([scalar, z.array(scalar).max(triggerLimits.inValues)]).optional(),
    scope: z.enum(['hit', 'visit']).optional(),
  })
  .strict();
type RawCondition = z.output<typeof rawCondition>;

function issue(ctx: z.RefinementCtx, message: string, path: Array<string | number> = []): void {
  ctx.addIssue({ code: z.ZodIssueCode.custom, message, path });
}

function checkMetric(c: RawCondition, ctx: z.RefinementCtx): void {
  if (!(metricOps as readonly string[]).includes(c.op)) return issue(ctx, `a metric op is one of ${metricOps.join(', ')}`, ['op']);
  if (c.op === 'exists') {
    if (c.value !== undefined) issue(ctx, 'exists takes no value', ['value']);
  } else if (typeof c.value !== 'number') issue(ctx, `${c.op} needs a numeric value`, ['value']);
}

function checkDimension(c: RawCondition, ctx: z.RefinementCtx): void {
  const op = c.op as DimensionOp;
  if (!dimensionOps.includes(op)) return issue(ctx, `a dimension op is one of ${dimensionOps.join(', ')}`, ['op']);
  if (c.scope !== undefined) issue(ctx, 'only metric conditions have a scope', ['scope']);
  if (op === 'exists') {
    if (c.value !== undefined) issue(ctx, 'exists takes no value', ['value']);
  } else if (c.value === undefined) issue(ctx, `${op} needs a value`, ['value']);
  else if (op === 'in') {
    if (!Array.isArray(c.value) || c.value.length === 0) issue(ctx, 'in needs a non-empty array of values', ['value']);
  } else if (Array.isArray(c.value)) issue(ctx, `${op} takes one value; use in for a list`, ['value']);
  else if (numericOps.has(op) && typeof c.value !== 'number') issue(ctx, `${op} needs a numeric value`, ['value']);
  else if (op === 'matches') {
    const problem = regexProblem(String(c.value));
    if (problem !== undefined) issue(ctx, problem, ['value']);
  }
}

const condition = rawCondition
  .superRefine((c, ctx) => {
    if ((c.metric === undefined) === (c.dimension === undefined)) return issue(ctx, 'a condition has either `metric` or `dimension`');
    if (c.metric !== undefined) checkMetric(c, ctx);
    else checkDimension(c, ctx);
  })
  .transform((c): Condition => {
    if (c.metric !== undefined) {
      const metric: MetricCondition = { metric: c.metric, op: c.op as MetricOp, scope: c.scope ?? 'hit' };
      if (typeof c.value === 'number') metric.value = c.value;
      return metric;
    }
    const dimension: DimensionCondition = { dimension: c.dimension ?? '', op: c.op as DimensionOp };
    if (c.value !== undefined) dimension.value = c.value;
    return dimension;
  });

const container = z.array(condition).min(1, 'a container needs at least one condition').max(triggerLimits.conditionsPerContainer);

const group = (minContainers: number) =>
  z
    .object({
      match: z.enum(['all', 'any']).default(minContainers > 0 ? 'all' : 'any'),
      containers: z
        .array(container)
        .min(minContainers, 'at least one include container')
        .max(triggerLimits.containers)
        .default([]),
    })
    .strict();

const inactivity = z
  .string()
  .default('10m')
  .transform((text, ctx) => {
    const ms = parseDuration(text);
    if (ms === undefined) issue(ctx, `"${text}" is not a duration such as 30s, 10m or 2h`);
    else if (ms < triggerLimits.minInactivityMs || ms > triggerLimits.maxInactivityMs) issue(ctx, 'inactivity goes from 1s to 4h');
    return ms ?? 0;
  });

const metadataName = z.string().superRefine((name, ctx) => {
  const problem = name === 'products' ? undefined : dimensionNameProblem(name);
  if (problem !== undefined) issue(ctx, problem);
});

export const triggerSchema = z
  .object({
    kind: z.literal('Trigger'),
    id: z.string().regex(slug, 'a slug: lower-case letters, digits and -, at most 64, not starting with -'),
    name: z.string().min(1).max(200),
    description: z.string().max(2000).optional(),
    source: z.string().regex(sourceId, 'a source id (letters, digits, _ . -)'),
    type: z.enum(['abandonment', 'action', 'sessionStart', 'sessionEnd']),
    include: group(1),
    exclude: group(0).default({}),
    inactivity: inactivity,
    metadata: z
      .array(metadataName)
      .max(triggerLimits.metadata)
      .default([])
      .refine((names) => new Set(names).size === names.length, 'metadata names are listed once each'),
    enabled: z.boolean().default(true),
  })
  .strict()
  .superRefine((trigger, ctx) => {
    // "Visit must not include" with match all (every exclude container satisfied) is not
    // implemented: the visit state keeps one exclusion time per trigger, which is `any`.
    if (trigger.exclude.containers.length > 1 && trigger.exclude.match === 'all') {
      issue(ctx, 'exclude supports match: any (the visit is excluded when any exclude container is satisfied)', ['exclude', 'match']);
    }
    trigger.exclude.containers.forEach((conditions, c) =>
      conditions.forEach((cond, i) => {
        if ('metric' in cond && cond.scope === 'visit') issue(ctx, 'visit-scoped conditions are for include only', ['exclude', 'containers', c, i, 'scope']);
      }),
    );
  });

/** A trigger as written in YAML or JSON (inactivity as a string). */
export type TriggerDocument = z.input<typeof triggerSchema>;

function toDefinition(parsed: z.output<typeof triggerSchema>): TriggerDefinition {
  const { inactivity, description, ...rest } = parsed;
  const definition: TriggerDefinition = { ...rest, inactivityMs: inactivity };
  if (description !== undefined) definition.description = description;
  return definition;
}

export function parseTrigger(document: unknown, origin = 'trigger'): TriggerDefinition {
  const problems = prototypeKeyPaths(document).map((path) => `  ${path}: prototype keys are refused`);
  const result = triggerSchema.safeParse(document);
  if (!result.success) problems.push(...result.error.issues.map((i) => `  ${i.path.join('.') || '(top level)'}: ${i.message}`));
  if (problems.length === 0 && result.success) return toDefinition(result.data);
  const first = problems[0]?.trim().split(':')[0] ?? '';
  throw new ReboundError('TRIGGER_INVALID', `invalid ${origin}:\n${problems.join('\n')}`, { path: `${origin}: ${first}` });
}

/** Paths of `__proto__` / `constructor` / `prototype` keys anywhere in a document. */
function prototypeKeyPaths(value: unknown, path: string[] = [], found: string[] = [], depth = 0): string[] {
  if (typeof value !== 'object' || value === null || depth > 32) return found;
  for (const key of Object.keys(value)) {
    const at = [...path, key];
    if (!isSafeKey(key)) found.push(at.join('.'));
    else prototypeKeyPaths((value as Record<string, unknown>)[key], at, found, depth + 1);
  }
  return found;
}

/**
 * Why a `matches` pattern is refused, or undefined when it is accepted. Two static checks, both
 * conservative: safe-regex2's star height (a quantifier inside a quantified group: `(a+)+`), and
 * our own "no quantified group with alternatives" (`(a|a)*`, which star height misses).
 * Back-references are refused as well: no linear-time guarantee holds with them.
 */
export function regexProblem(pattern: string): string | undefined {
  if (pattern.length > triggerLimits.patternChars) return `a pattern has at most ${triggerLimits.patternChars} characters`;
  try {
    new RegExp(pattern);
  } catch (err) {
    return `not a regular expression: ${(err as Error).message}`;
  }
  if (/\\[1-9]|\\k</.test(pattern)) return 'back-references are not allowed in a pattern';
  if (!safeRegex(pattern) || repeatsAlternation(pattern)) {
    return 'unsafe pattern: it may backtrack catastrophically (nested quantifiers or a repeated group with alternatives); simplify it or use `in`';
  }
  return undefined;
}

/** True when a group containing `|` is followed by a quantifier allowing more than one repetition. */
function repeatsAlternation(pattern: string): boolean {
  const groups: boolean[] = [];
  for (let i = 0; i < pattern.length; i++) {
    const char = pattern[i];
    if (char === '\\') i++;
    else if (char === '[') i = classEnd(pattern, i);
    else if (char === '(') groups.push(false);
    else if (char === '|' && groups.length > 0) groups[groups.length - 1] = true;
    else if (char === ')') {
      const hasAlternation = groups.pop() ?? false;
      if (hasAlternation && repeats(pattern.slice(i + 1))) return true;
      if (hasAlternation && groups.length > 0) groups[groups.length - 1] = true;
    }
  }
  return false;
}

function classEnd(pattern: string, start: number): number {
  for (let i = start + 1; i < pattern.length; i++) {
    if (pattern[i] === '\\') i++;
    else if (pattern[i] === ']') return i;
  }
  return pattern.length;
}

function repeats(rest: string): boolean {
  if (rest.startsWith('*') || rest.startsWith('+')) return true;
  const braces = /^\{(\d+)(,(\d*))?\}/.exec(rest);
  if (!braces) return false;
  if (braces[2] === undefined) return Number(braces[1]) > 1;
  return braces[3] === '' || Number(braces[3]) > 1;
}

// A sequential reference evaluator of SPEC §5, written from the specification and not from the
// implementation: given every hit of ONE visit (any order, duplicates allowed), which triggers
// fire and what their message carries. Used by the property and fault tests as the oracle.
// Semantics kept here:
// - duplicated hit ids count once;
// - a container is satisfied by a single hit meeting its hit-level conditions; its visit-scope
//   conditions are judged on the counts of the whole visit;
// - include `all` is satisfied at the latest of the containers' earliest satisfying hits, `any`
//   at the earliest; exclude likewise with its own `match`;
// - abandonment / sessionEnd: include satisfied and exclude never satisfied in the visit;
// - action: include satisfied at time t, exclude not satisfied at or before t;
// - sessionStart: the first hit of the visit satisfies include and exclude is not satisfied by it.
import type { Hit } from '../../src/model/hit.js';
import type { Condition, ContainerGroup, TriggerDefinition } from '../../src/model/trigger.js';

export interface ExpectedFire {
  visitorId: string;
  triggerName: string;
  path: Array<{ container: number; ts: number }>;
  firstHitTs: number;
  lastHitTs: number;
  /** Cart of the visit: added − removed per sku, lines with a positive quantity only. */
  cart: Map<string, number>;
  /** Metadata values of the hits that satisfied an include container, as sets. */
  metadata: Map<string, Set<string>>;
}

type VisitCounts = Map<string, number>;

function metricValue(hit: Hit, metric: string): number {
  return hit.eventValues?.[metric] ?? 1;
}

function compare(op: string, n: number, target: number): boolean {
  if (op === 'gte') return n >= target;
  if (op === 'lte') return n <= target;
  if (op === 'eq') return n === target;
  throw new Error(`reference: unsupported numeric op ${op}`);
}

function dimensionValues(hit: Hit, name: string): Array<string | number | boolean> {
  if (name === 'pageName' || name === 'pageURL' || name === 'referrer' || name === 'searchTerm') {
    const value = hit[name];
    return value === undefined ? [] : [value];
  }
  if (name === 'product') return (hit.products ?? []).map((p) => p.sku);
  if (name === 'category') return (hit.products ?? []).flatMap((p) => (p.category === undefined ? [] : [p.category]));
  const value = hit.dims?.[name];
  return value === undefined ? [] : [value];
}

function dimensionTest(op: string, expected: unknown): (value: string | number | boolean) => boolean {
  const text = String(expected);
  switch (op) {
    case 'exists':
      return () => true;
    case 'eq':
      return (v) => String(v) === text;
    case 'neq':
      return (v) => String(v) !== text;
    case 'contains':
      return (v) => String(v).includes(text);
    case 'startsWith':
      return (v) => String(v).startsWith(text);
    case 'endsWith':
      return (v) => String(v).endsWith(text);
    case 'in':
      return (v) => (expected as unknown[]).map(String).includes(String(v));
    default:
      throw new Error(`reference: unsupported dimension op ${op}`);
  }
}

function holds(condition: Condition, hit: Hit, counts: VisitCounts): boolean {
  if ('metric' in condition) {
    if (condition.scope === 'visit') {
      const n = counts.get(condition.metric) ?? 0;
      return condition.op === 'exists' ? n > 0 : compare(condition.op, n, condition.value ?? 0);
    }
    if (!hit.events.includes(condition.metric)) return false;
    return condition.op === 'exists' || compare(condition.op, metricValue(hit, condition.metric), condition.value ?? 0);
  }
  const test = dimensionTest(condition.op, condition.value);
  return dimensionValues(hit, condition.dimension).some(test);
}

/** Per container, the earliest ts of a hit satisfying it (undefined: none). */
function containerTimes(group: ContainerGroup, hits: readonly Hit[], counts: VisitCounts): Array<number | undefined> {
  return group.containers.map((conditions) => {
    let earliest: number | undefined;
    for (const hit of hits) if (conditions.every((c) => holds(c, hit, counts)) && (earliest === undefined || hit.ts < earliest)) earliest = hit.ts;
    return earliest;
  });
}

/** When the group became satisfied (ts), or undefined when it never was. */
function satisfiedAt(group: ContainerGroup, times: ReadonlyArray<number | undefined>): number | undefined {
  const present = times.filter((t): t is number => t !== undefined);
  if (present.length === 0) return undefined;
  if (group.match === 'all') return present.length === times.length ? Math.max(...present) : undefined;
  return Math.min(...present);
}

/** Distinct hits of a visit (first occurrence of each id), in ts order. */
export function distinctHits(hits: readonly Hit[]): Hit[] {
  const byId = new Map<string, Hit>();
  for (const hit of hits) if (!byId.has(hit.id)) byId.set(hit.id, hit);
  return [...byId.values()].sort((a, b) => a.ts - b.ts);
}

function visitCounts(hits: readonly Hit[]): VisitCounts {
  const counts: VisitCounts = new Map();
  for (const hit of hits) for (const event of new Set(hit.events)) counts.set(event, (counts.get(event) ?? 0) + metricValue(hit, event));
  return counts;
}

function cartOf(hits: readonly Hit[]): Map<string, number> {
  const cart = new Map<string, number>();
  for (const hit of hits) {
    const sign = hit.events.includes('scAdd') ? 1 : hit.events.includes('scRemove') ? -1 : 0;
    for (const product of sign === 0 ? [] : (hit.products ?? [])) cart.set(product.sku, (cart.get(product.sku) ?? 0) + sign * (product.quantity ?? 1));
  }
  for (const [sku, quantity] of cart) if (quantity <= 0) cart.delete(sku);
  return cart;
}

function fires(trigger: TriggerDefinition, includeAt: number | undefined, excludeAt: number | undefined, first: number): boolean {
  if (includeAt === undefined) return false;
  switch (trigger.type) {
    case 'abandonment':
    case 'sessionEnd':
      return excludeAt === undefined;
    case 'action':
      return excludeAt === undefined || excludeAt > includeAt;
    case 'sessionStart':
      return includeAt === first && (excludeAt === undefined || excludeAt > first);
  }
}

/** What `trigger` fires for one visit made of `hits` (duplicates and any order allowed). */
export function evaluateVisit(trigger: TriggerDefinition, visitorId: string, hits: readonly Hit[]): ExpectedFire | undefined {
  const visit = distinctHits(hits);
  const first = visit[0];
  const last = visit[visit.length - 1];
  if (first === undefined || last === undefined) return undefined;
  const counts = visitCounts(visit);
  const includeTimes = containerTimes(trigger.include, visit, counts);
  const includeAt = satisfiedAt(trigger.include, includeTimes);
  const excludeAt = satisfiedAt(trigger.exclude, containerTimes(trigger.exclude, visit, counts));
  if (!fires(trigger, includeAt, excludeAt, first.ts)) return undefined;
  const metadata = new Map<string, Set<string>>();
  const contributing = visit.filter((hit) => trigger.include.containers.some((conditions) => conditions.every((c) => holds(c, hit, counts))));
  for (const name of trigger.metadata.filter((n) => n !== 'products')) {
    const values = new Set(contributing.flatMap((hit) => dimensionValues(hit, name).map(String)));
    if (values.size > 0) metadata.set(name, values);
  }
  return {
    visitorId,
    triggerName: trigger.id,
    path: includeTimes.flatMap((ts, container) => (ts === undefined ? [] : [{ container, ts }])),
    firstHitTs: first.ts,
    lastHitTs: last.ts,
    cart: cartOf(visit),
    metadata,
  };
}

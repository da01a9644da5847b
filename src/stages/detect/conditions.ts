// One trigger condition compiled into a predicate on a single hit (SPEC §5, Adobe §1.3), once per
// definitions version: patterns compiled, `in` lists turned into sets, readers chosen by name.
// Rules kept here: a dimension condition holds when ANY value of the dimension passes (products
// are multi-valued); on an absent dimension every operator is false, neq and notContains included.
// String operators compare `String(value)` case-sensitively; gt/gte/lt/lte compare numbers
// (a numeric string counts, a boolean or non-numeric string never passes).
import type { DimValue, Hit } from '../../model/hit.js';
import type { DimensionCondition, MetricCondition } from '../../model/trigger.js';
import { dimensionReader } from './hit-values.js';

export type HitPredicate = (hit: Hit) => boolean;

/**
 * A hit-scoped metric condition: `exists` when the hit's events name the metric; gte/lte/eq compare
 * the hit's value of it (`eventValues[metric]`, else 1) and are false when the event is absent.
 */
export function compileMetric(condition: MetricCondition): HitPredicate {
  const { metric, op } = condition;
  if (op === 'exists') return (hit) => hit.events.includes(metric);
  const compare = numberTest(op, condition.value ?? 0);
  return (hit) => hit.events.includes(metric) && compare(metricValue(hit, metric));
}

export function metricValue(hit: Hit, metric: string): number {
  const values = hit.eventValues;
  return values !== undefined && Object.hasOwn(values, metric) ? (values[metric] as number) : 1;
}

export function compileDimension(condition: DimensionCondition): HitPredicate {
  const read = dimensionReader(condition.dimension);
  const test = valueTest(condition);
  return (hit) => read(hit, test);
}

/** The test one value of the dimension must pass. The condition was validated by parseTrigger. */
export function valueTest(condition: DimensionCondition): (value: DimValue) => boolean {
  const { op, value } = condition;
  const text = String(value);
  switch (op) {
    case 'exists':
      return () => true;
    case 'eq':
      return (v) => String(v) === text;
    case 'neq':
      return (v) => String(v) !== text;
    case 'contains':
      return (v) => String(v).includes(text);
    case 'notContains':
      return (v) => !String(v).includes(text);
    case 'startsWith':
      return (v) => String(v).startsWith(text);
    case 'endsWith':
      return (v) => String(v).endsWith(text);
    case 'matches': {
      const pattern = new RegExp(text);
      return (v) => pattern.test(String(v));
    }
    case 'in': {
      const set = new Set((Array.isArray(value) ? value : [value]).map(String));
      return (v) => set.has(String(v));
    }
    default: {
      const compare = numberTest(op, Number(value));
      return (v) => {
        const n = toNumber(v);
        return n !== undefined && compare(n);
      };
    }
  }
}

function numberTest(op: 'gt' | 'gte' | 'lt' | 'lte' | 'eq', target: number): (n: number) => boolean {
  switch (op) {
    case 'gt':
      return (n) => n > target;
    case 'gte':
      return (n) => n >= target;
    case 'lt':
      return (n) => n < target;
    case 'lte':
      return (n) => n <= target;
    case 'eq':
      return (n) => n === target;
  }
}

function toNumber(value: DimValue): number | undefined {
  if (typeof value === 'number') return value;
  if (typeof value !== 'string' || value.trim() === '') return undefined;
  const n = Number(value);
  return Number.isFinite(n) ? n : undefined;
}

// The enabled triggers of each source, compiled and indexed once per definitions version so that
// a hit only evaluates the containers it can satisfy (SPEC §5: per-hit cost must not grow with the
// number of triggers). Every hit-level condition is a necessary condition (a metric condition
// needs the event on the hit; a dimension condition needs the dimension present), so a container
// is indexed under ONE of its conditions, the most selective:
//   1. a dimension `eq`/`in` → (dimension, value) exact lookup;
//   2. else a hit-scoped metric → the metric's name;
//   3. else a dimension → the dimension's name (reached whenever the hit has that dimension).
// A container whose conditions are all `scope: visit` has nothing to test on a hit: it is indexed
// under each of its metrics and "matched" by any hit carrying one of them, so the detect stage
// can count it; its visit conditions are checked at fire time (CompiledTrigger.visitConditions).
import type { DimValue, Hit } from '../../model/hit.js';
import type { Condition, DimensionCondition, MetricCondition } from '../../model/trigger.js';
import type { StoredTrigger } from '../../model/trigger-store.js';
import { compileDimension, compileMetric, type HitPredicate } from './conditions.js';
import { dimensionReader, forEachPresentDimension, type DimensionReader } from './hit-values.js';

export interface CompiledTrigger {
  stored: StoredTrigger;
  /** Per include container, its `scope: 'visit'` conditions (evaluated at fire time on visit counts). */
  visitConditions: Array<Array<MetricCondition>>;
  /** Metrics whose visit counts must be kept for this trigger. */
  visitMetrics: string[];
}

export interface Match {
  trigger: CompiledTrigger;
  /** Indexes (ascending) of include containers whose hit-level conditions all hold on this hit. */
  include: readonly number[];
  /** Some exclude container's hit-level conditions all hold on this hit. */
  exclude: boolean;
}

export interface SourceIndex {
  readonly triggers: readonly CompiledTrigger[];
  /** Metrics counted over the visit by at least one trigger of the source. */
  readonly visitMetrics: ReadonlySet<string>;
  /**
   * Triggers with at least one matching container, in slot order. The list and its matches are
   * reused: valid until the next call (the detect stage folds them into a state first).
   */
  evaluate(hit: Hit): readonly Match[];
  /** Running count of container evaluations. */
  readonly stats: { containersEvaluated: number };
}

interface Entry {
  position: number;
  compiled: CompiledTrigger;
  epoch: number;
  match: Match;
}

interface CompiledContainer {
  entry: Entry;
  exclude: boolean;
  index: number;
  /** [index]: a match's include when this container is the only one of its trigger the hit satisfies (most hits). */
  only: readonly number[];
  predicates: HitPredicate[];
  epoch: number;
}

const isMetric = (condition: Condition): condition is MetricCondition => 'metric' in condition;

/** What evaluate returns for a hit that matches nothing, and a match's include before it has any (never mutated). */
export const noMatches: readonly Match[] = [];
const noContainers: readonly number[] = [];

function holdsAll(predicates: readonly HitPredicate[], hit: Hit): boolean {
  for (let i = 0; i < predicates.length; i++) if (!(predicates[i] as HitPredicate)(hit)) return false;
  return true;
}

const entryPosition = (entry: Entry): number => entry.position;
const itself = (n: number): number => n;

/** Sorts the first `length` items of a short list in place by a numeric key (insertion sort: no allocation, and lists are rarely out of order). */
function sortBy<T>(list: T[], key: (item: T) => number, length = list.length): void {
  for (let i = 1; i < length; i++) {
    const item = list[i] as T;
    const k = key(item);
    let j = i - 1;
    while (j >= 0 && key(list[j] as T) > k) {
      list[j + 1] = list[j] as T;
      j--;
    }
    list[j + 1] = item;
  }
}

function push<K, V>(map: Map<K, V[]>, key: K, value: V): void {
  const list = map.get(key);
  if (list === undefined) map.set(key, [value]);
  else list.push(value);
}

class SourceTriggerIndex implements SourceIndex {
  readonly triggers: CompiledTrigger[] = [];
  readonly visitMetrics = new Set<string>();
  readonly stats = { containersEvaluated: 0 };
  readonly #byMetric = new Map<string, CompiledContainer[]>();
  readonly #byDimension = new Map<string, CompiledContainer[]>();
  readonly #byValue = new Map<string, { read: DimensionReader; values: Map<string, CompiledContainer[]> }>();
  #epoch = 0;
  /**
   * Entries matched by the hit being evaluated (the first #foundCount), and what evaluate returns:
   * both reused, and written by index, never emptied (V8 frees an array's storage when its length
   * is set to 0, and the next push allocates it again).
   */
  readonly #found: Entry[] = [];
  #foundCount = 0;
  readonly #matches: Match[] = [];
  /** The hit being evaluated (evaluate is synchronous, so one at a time). */
  #hit: Hit | undefined;
  /** The value index of the dimension being read by #reachValue. */
  #values: Map<string, CompiledContainer[]> | undefined;
  readonly #visitDimension = (name: string): void => this.#reachDimension(name);
  readonly #reachValue = (value: DimValue): boolean => {
    this.#reach(this.#values?.get(typeof value === 'string' ? value : String(value)));
    return false;
  };

  constructor(triggers: readonly StoredTrigger[]) {
    triggers.forEach((stored, position) => this.#add(stored, position));
  }

  #add(stored: StoredTrigger, position: number): void {
    const visitConditions = stored.include.containers.map((conditions) => conditions.filter((c): c is MetricCondition => isMetric(c) && c.scope === 'visit'));
    const visitMetrics = [...new Set(visitConditions.flat().map((c) => c.metric))];
    const compiled: CompiledTrigger = { stored, visitConditions, visitMetrics };
    const entry: Entry = { position, compiled, epoch: 0, match: { trigger: compiled, include: [], exclude: false } };
    this.triggers.push(compiled);
    for (const metric of visitMetrics) this.visitMetrics.add(metric);
    stored.include.containers.forEach((conditions, index) => this.#addContainer(entry, false, index, conditions));
    stored.exclude.containers.forEach((conditions, index) => this.#addContainer(entry, true, index, conditions));
  }

  #addContainer(entry: Entry, exclude: boolean, index: number, conditions: readonly Condition[]): void {
    const hitLevel = conditions.filter((c) => !isMetric(c) || c.scope === 'hit');
    const predicates = hitLevel.map((c) => (isMetric(c) ? compileMetric(c) : compileDimension(c)));
    const container: CompiledContainer = { entry, exclude, index, only: [index], predicates, epoch: 0 };
    if (hitLevel.length === 0) {
      for (const c of conditions) if (isMetric(c)) push(this.#byMetric, c.metric, container);
      return;
    }
    const exact = hitLevel.find((c): c is DimensionCondition => !isMetric(c) && (c.op === 'eq' || c.op === 'in'));
    if (exact !== undefined) return this.#addExact(exact, container);
    const metric = hitLevel.find(isMetric);
    if (metric !== undefined) return push(this.#byMetric, metric.metric, container);
    push(this.#byDimension, (hitLevel[0] as DimensionCondition).dimension, container);
  }

  #addExact(condition: DimensionCondition, container: CompiledContainer): void {
    let slot = this.#byValue.get(condition.dimension);
    if (slot === undefined) {
      slot = { read: dimensionReader(condition.dimension), values: new Map() };
      this.#byValue.set(condition.dimension, slot);
    }
    const values = Array.isArray(condition.value) ? condition.value : [condition.value];
    for (const value of new Set(values.map(String))) push(slot.values, value, container);
  }

  evaluate(hit: Hit): readonly Match[] {
    this.#epoch++;
    this.#foundCount = 0;
    this.#hit = hit;
    const events = hit.events;
    for (let i = 0; i < events.length; i++) this.#reach(this.#byMetric.get(events[i] as string));
    forEachPresentDimension(hit, this.#visitDimension);
    this.#hit = undefined;
    const n = this.#foundCount;
    if (n === 0) return noMatches;
    const found = this.#found;
    sortBy(found, entryPosition, n);
    const matches = this.#matches;
    for (let i = 0; i < n; i++) {
      const match = (found[i] as Entry).match;
      if (match.include.length > 1) sortBy(match.include as number[], itself);
      matches[i] = match;
    }
    if (matches.length !== n) matches.length = n;
    return matches;
  }

  #reachDimension(name: string): void {
    this.#reach(this.#byDimension.get(name));
    const exact = this.#byValue.get(name);
    if (exact === undefined || this.#hit === undefined) return;
    this.#values = exact.values;
    exact.read(this.#hit, this.#reachValue);
    this.#values = undefined;
  }

  #reach(containers: CompiledContainer[] | undefined): void {
    if (containers === undefined) return;
    const hit = this.#hit as Hit;
    for (const container of containers) {
      if (container.epoch === this.#epoch) continue;
      container.epoch = this.#epoch;
      this.stats.containersEvaluated++;
      if (holdsAll(container.predicates, hit)) this.#record(container);
    }
  }

  #record(container: CompiledContainer): void {
    const entry = container.entry;
    if (entry.epoch !== this.#epoch) {
      entry.epoch = this.#epoch;
      entry.match.include = noContainers;
      entry.match.exclude = false;
      this.#found[this.#foundCount++] = entry;
    }
    const match = entry.match;
    if (container.exclude) match.exclude = true;
    // A copy when the trigger has several (never pushed into: `only` is shared, see above).
    else match.include = match.include.length === 0 ? container.only : match.include.concat(container.index);
  }
}

export class TriggerIndex {
  readonly #sources = new Map<string, SourceTriggerIndex>();

  /** Enabled triggers only; built once per definitions version. */
  constructor(triggers: readonly StoredTrigger[]) {
    const bySource = new Map<string, StoredTrigger[]>();
    for (const trigger of triggers) if (trigger.enabled) push(bySource, trigger.source, trigger);
    for (const [source, list] of bySource) this.#sources.set(source, new SourceTriggerIndex(list.sort((a, b) => a.slot - b.slot)));
  }

  forSource(source: string): SourceIndex | undefined {
    return this.#sources.get(source);
  }
}

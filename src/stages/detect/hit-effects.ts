// What one hit does to its visitor's state, worked out once per hit and independent of that
// state: its de-duplication hash, the visit rules of its source, aliases, cart lines, visit-scope
// counts and the triggers whose containers it satisfies (found through the trigger index).
// visitor-state.ts folds these into the state.
import type { DimValue, Hit } from '../../model/hit.js';
import type { Source } from '../../model/source.js';
import type { StoredTrigger } from '../../model/trigger-store.js';
import { dimensionReader, ValueCollector, type DimensionReader } from './hit-values.js';
import { noMatches, type Match, type SourceIndex, type TriggerIndex } from './trigger-index.js';

/** Visit rules of a hit whose source is unknown to this process (SPEC §4 defaults). */
export const defaultVisit: Source['visit'] = { inactivity: 30 * 60_000, maxDuration: 12 * 3_600_000, maxHits: 2500, botRule: { hits: 100, within: 100_000 } };

export interface EffectSettings {
  /** Delay before an action or sessionStart trigger is decided: hits arriving out of order meanwhile still count. */
  settleMs: number;
}

export type CartLine = [sku: string, delta: number, price: number | undefined, name: string | undefined, category: string | undefined];
/** [name, values, name, values, …]: the trigger's metadata names that have values on the hit. */
export type Metadata = Array<string | DimValue[]>;

export interface MatchEffect {
  slot: number;
  /** Abandonment and sessionEnd: one timer per visit, moved to the last hit + the delay when it comes due; the others fire once, `delayMs` after their hit. */
  rearmed: boolean;
  delayMs: number;
  /** Include containers satisfied by the hit (ascending). */
  include: readonly number[];
  excluded: boolean;
  /** The trigger's metadata values on this hit, when it satisfied an include container. */
  metadata: Metadata | undefined;
}

export interface HitEffect {
  /**
   * 30 bits of the hit id's hash (idHash): the visitor's recent-hit de-duplication. 30 bits stay a
   * small integer in V8 (no heap number per hit in the cached states); with 32 recent hashes a new
   * hit is taken for a duplicate about once in 33 million.
   */
  hash: number;
  receivedAt: number;
  ts: number;
  visit: Source['visit'];
  visitorId: string;
  aliases: Record<string, string> | undefined;
  cart: CartLine[] | undefined;
  /** [metric, n, …] */
  counts: Array<string | number> | undefined;
  matches: MatchEffect[] | undefined;
}

/**
 * FNV-1a over the id's UTF-16 code units, mixed by Murmur3's finalizer so that every bit depends
 * on every character, keeping the top 30 bits. Not cryptographic, and it need not be: it only
 * tells a visitor's last 32 hits apart. (States written before kept sha1-based hashes.)
 */
export function idHash(id: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < id.length; i++) h = Math.imul(h ^ id.charCodeAt(i), 0x01000193);
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 2;
}

function cartLines(hit: Hit): CartLine[] | undefined {
  const sign = hit.events.includes('scAdd') ? 1 : hit.events.includes('scRemove') ? -1 : 0;
  if (sign === 0 || !hit.products?.length) return undefined;
  return hit.products.map((p) => [p.sku, sign * (p.quantity ?? 1), p.price, p.name, p.category]);
}

export class EffectBuilder {
  /**
   * The effect effect() returns, filled anew by each call: the detect stage folds it into the
   * visitor's state before the next hit (visitor-state.ts copies values, never these objects), so
   * a batch allocates no effect per hit (about half of the detect process's CPU is garbage collection).
   */
  readonly #effect: HitEffect = { hash: 0, receivedAt: 0, ts: 0, visit: defaultVisit, visitorId: '', aliases: undefined, cart: undefined, counts: undefined, matches: undefined };
  /** The match effects effect() reuses, and the list it returns (the first `length` of them). */
  readonly #matchPool: MatchEffect[] = [];
  readonly #matches: MatchEffect[] = [];
  readonly #counts: Array<string | number> = [];
  readonly #index: TriggerIndex;
  readonly #sources: ReadonlyMap<string, Source>;
  readonly #settings: EffectSettings;
  /** Per trigger slot, the readers of its metadata names (chosen once per definitions version). */
  readonly #metadataReaders = new Map<number, Array<[string, DimensionReader]>>();
  readonly #collector = new ValueCollector();

  constructor(index: TriggerIndex, sources: ReadonlyMap<string, Source>, settings: EffectSettings) {
    this.#index = index;
    this.#sources = sources;
    this.#settings = settings;
  }

  /** What the hit does to its visitor's state; valid until the next call (see #effect). */
  effect(hit: Hit): HitEffect {
    const visit = this.#sources.get(hit.source)?.visit ?? defaultVisit;
    const source = this.#index.forSource(hit.source);
    const found = source ? source.evaluate(hit) : noMatches;
    // Written by index, never emptied: V8 frees an array's storage when its length is set to 0.
    const matches = this.#matches;
    for (let i = 0; i < found.length; i++) matches[i] = this.#matchEffect(i, found[i] as Match, hit, visit);
    if (found.length > 0 && matches.length !== found.length) matches.length = found.length;
    const effect = this.#effect;
    effect.hash = idHash(hit.id);
    effect.receivedAt = hit.receivedAt;
    effect.ts = hit.ts;
    effect.visit = visit;
    effect.visitorId = hit.visitorId;
    effect.aliases = hit.aliases && Object.keys(hit.aliases).length > 0 ? hit.aliases : undefined;
    effect.cart = cartLines(hit);
    effect.counts = source ? this.#visitCounts(source, hit) : undefined;
    effect.matches = found.length > 0 ? matches : undefined;
    return effect;
  }

  /** The pooled match effect at `position`, filled for this match. */
  #matchEffect(position: number, match: Match, hit: Hit, visit: Source['visit']): MatchEffect {
    const trigger = match.trigger.stored;
    const effect = (this.#matchPool[position] ??= { slot: 0, rearmed: false, delayMs: 0, include: [], excluded: false, metadata: undefined });
    effect.slot = trigger.slot;
    effect.rearmed = trigger.type === 'abandonment' || trigger.type === 'sessionEnd';
    effect.delayMs = trigger.type === 'abandonment' ? trigger.inactivityMs : trigger.type === 'sessionEnd' ? visit.inactivity : this.#settings.settleMs;
    effect.include = match.include;
    effect.excluded = match.exclude;
    effect.metadata = match.include.length > 0 ? this.#metadataOf(hit, trigger) : undefined;
    return effect;
  }

  /** Visit counts of the metrics some trigger of the source conditions on with `scope: visit` (in the reused #counts, as #matches). */
  #visitCounts(source: SourceIndex, hit: Hit): Array<string | number> | undefined {
    const counts = this.#counts;
    let n = 0;
    for (const metric of source.visitMetrics) {
      if (!hit.events.includes(metric)) continue;
      counts[n++] = metric;
      counts[n++] = hit.eventValues?.[metric] ?? 1;
    }
    if (n === 0) return undefined;
    if (counts.length !== n) counts.length = n;
    return counts;
  }

  #metadataOf(hit: Hit, trigger: StoredTrigger): Metadata | undefined {
    let readers = this.#metadataReaders.get(trigger.slot);
    if (readers === undefined) {
      // `products` is the cart, kept per visit.
      readers = trigger.metadata.filter((name) => name !== 'products').map((name): [string, DimensionReader] => [name, dimensionReader(name)]);
      this.#metadataReaders.set(trigger.slot, readers);
    }
    let values: Metadata | undefined;
    for (const [name, read] of readers) {
      const found = this.#collector.collect(hit, read);
      if (found.length > 0) (values ??= []).push(name, found);
    }
    return values;
  }
}

// Turns a batch of hit entries into the plan that lua/detect-apply.lua applies in one call:
// per hit, its visitor key, de-duplication hash, times, aliases, cart lines, visit-scope counts
// and the triggers whose containers it satisfies (found through the trigger index).
import { createHash } from 'node:crypto';
import type { Keys } from '../../core/redis/keys.js';
import type { Hit } from '../../model/hit.js';
import type { Source } from '../../model/source.js';
import { dimensionValues } from './hit-values.js';
import type { Match, SourceIndex, TriggerIndex } from './trigger-index.js';

/** Visit rules of a hit whose source is unknown to this process (SPEC §4 defaults). */
export const defaultVisit: Source['visit'] = { inactivity: 30 * 60_000, maxDuration: 12 * 3_600_000, maxHits: 2500, botRule: { hits: 100, within: 100_000 } };

export interface PlanSettings {
  /** Delay before an action or sessionStart trigger is decided: hits arriving out of order meanwhile still count. */
  settleMs: number;
}

type PlanMatch = [slot: number, kind: 'a' | 'o', delayMs: number, include: number[], excluded: boolean, metaJson: string];
type CartLine = [sku: string, delta: number, price: number | false, name: string | false, category: string | false];
type PlanHit = [keyIndex: number, hash: string, receivedAt: number, ts: number, sourceIndex: number, visitorId: string, aliasesJson: string, cart: CartLine[] | false, counts: Array<[string, number]> | false, matches: PlanMatch[] | false];

export interface VisitorPlan {
  keys: string[];
  plan: [sources: number[][], entries: Array<[string, PlanHit[]]>];
  hits: number;
}

/** 32 bits of the hit id's digest, as 8 hex characters (Lua's cmsgpack reads no binary type). */
const idHash = (id: string): string => createHash('sha1').update(id).digest('hex').slice(0, 8);

function cartLines(hit: Hit): CartLine[] | false {
  const sign = hit.events.includes('scAdd') ? 1 : hit.events.includes('scRemove') ? -1 : 0;
  if (sign === 0 || !hit.products?.length) return false;
  return hit.products.map((p) => [p.sku, sign * (p.quantity ?? 1), p.price ?? false, p.name ?? false, p.category ?? false]);
}

function metadataJson(hit: Hit, names: readonly string[]): string {
  const values: Record<string, Array<string | number | boolean>> = {};
  let any = false;
  for (const name of names) {
    if (name === 'products') continue; // the cart, kept per visit
    const found = dimensionValues(hit, name);
    if (found.length > 0) {
      values[name] = found;
      any = true;
    }
  }
  return any ? JSON.stringify(values) : '';
}

function planMatch(match: Match, hit: Hit, visit: Source['visit'], settings: PlanSettings): PlanMatch {
  const trigger = match.trigger.stored;
  const rearmed = trigger.type === 'abandonment' || trigger.type === 'sessionEnd';
  const delay = trigger.type === 'abandonment' ? trigger.inactivityMs : trigger.type === 'sessionEnd' ? visit.inactivity : settings.settleMs;
  return [trigger.slot, rearmed ? 'a' : 'o', delay, match.include, match.exclude, match.include.length > 0 ? metadataJson(hit, trigger.metadata) : ''];
}

export class PlanBuilder {
  readonly #keys: Keys;
  readonly #index: TriggerIndex;
  readonly #sources: ReadonlyMap<string, Source>;
  readonly #settings: PlanSettings;

  constructor(keys: Keys, index: TriggerIndex, sources: ReadonlyMap<string, Source>, settings: PlanSettings) {
    this.#keys = keys;
    this.#index = index;
    this.#sources = sources;
    this.#settings = settings;
  }

  build(partition: number, entries: ReadonlyArray<{ id: string; hits: readonly Hit[] }>): VisitorPlan {
    const keys: string[] = [];
    const keyIndex = new Map<string, number>();
    const sourceIndex = new Map<string, number>();
    const sources: number[][] = [];
    let count = 0;
    const planned = entries.map(({ id, hits }): [string, PlanHit[]] => [
      id,
      hits.map((hit) => {
        count++;
        const visit = this.#sources.get(hit.source)?.visit ?? defaultVisit;
        let s = sourceIndex.get(hit.source);
        if (s === undefined) {
          sources.push([visit.inactivity, visit.maxDuration, visit.maxHits, visit.botRule.hits, visit.botRule.within]);
          s = sources.length;
          sourceIndex.set(hit.source, s);
        }
        let k = keyIndex.get(hit.visitorId);
        if (k === undefined) {
          keys.push(this.#keys.visitor(partition, hit.visitorId));
          k = keys.length + 2; // KEYS[1] hits stream, KEYS[2] timers
          keyIndex.set(hit.visitorId, k);
        }
        const source = this.#index.forSource(hit.source);
        const matches = source ? source.evaluate(hit) : [];
        const counts = source ? this.#visitCounts(source, hit) : [];
        return [
          k,
          idHash(hit.id),
          hit.receivedAt,
          hit.ts,
          s,
          hit.visitorId,
          hit.aliases && Object.keys(hit.aliases).length > 0 ? JSON.stringify(hit.aliases) : '',
          cartLines(hit),
          counts.length > 0 ? counts : false,
          matches.length > 0 ? matches.map((m) => planMatch(m, hit, visit, this.#settings)) : false,
        ];
      }),
    ]);
    return { keys, plan: [sources, planned], hits: count };
  }

  /** Visit counts of the metrics some trigger of the source conditions on with `scope: visit`. */
  #visitCounts(source: SourceIndex, hit: Hit): Array<[string, number]> {
    const counts: Array<[string, number]> = [];
    for (const metric of source.visitMetrics) if (hit.events.includes(metric)) counts.push([metric, hit.eventValues?.[metric] ?? 1]);
    return counts;
  }
}

// The detect stage: reads hit entries, evaluates them against the trigger index, takes the
// states of the batch's visitors from its cache or reads the missing ones in one call
// (lua/detect-load.lua), applies the hits to them in the process (visitor-state.ts), and writes
// the states, arms the timers and acknowledges the entries in one call (lua/detect-apply.lua)
// that refuses the write if a state changed since it was read (another detect process, a fired
// timer, an expiry); the batch's states are then read again and the hits applied again. A batch
// is applied exactly once. The runtime keeps one batch per partition in flight, so the cache
// holds what Redis holds unless another process wrote meanwhile, which the write check catches.
import { LRUCache } from 'lru-cache';
import { encodePlain } from '../../core/codec.js';
import { ReboundError } from '../../core/errors.js';
import type { RedisPort } from '../../core/redis/client.js';
import type { Keys } from '../../core/redis/keys.js';
import type { Hit } from '../../model/hit.js';
import { acknowledged, type StageDefinition } from '../runtime/stage.js';
import type { DetectDefinitions } from './definitions.js';
import type { HitEffect } from './hit-effects.js';
import { VisitorState, type LoadedVisitor, type TimerArms } from './visitor-state.js';

export const detectGroup = 'detect';

/** Reads and applications of one batch before it gives up (the runtime then retries the batch whole, with backoff). */
const MAX_ATTEMPTS = 8;

export interface DetectStageSettings {
  visitorTtlMs: number;
  /** Visitor states kept in the process between batches. */
  stateCacheSize: number;
}

interface Entry {
  id: string;
  /** Per hit, its visitor's position in the batch's visitor keys, and its effect. */
  hits: Array<{ visitor: number; effect: HitEffect }>;
}

type ApplyReply = [0] | [1, string[]] | [2, number];

export function detectStage(redis: RedisPort, keys: Keys, definitions: () => DetectDefinitions, settings: DetectStageSettings): StageDefinition<Hit[]> {
  const stream = (partition: number): string => keys.stream(partition, 'hits');

  const cache = new LRUCache<string, VisitorState>({ max: settings.stateCacheSize });

  /** The batch's visitor states: from the cache, the others read in one call and cached. */
  async function statesOf(visitorKeys: readonly string[]): Promise<VisitorState[]> {
    const states = visitorKeys.map((key) => cache.get(key));
    const missing = visitorKeys.filter((_, i) => states[i] === undefined);
    if (missing.length === 0) return states as VisitorState[];
    const loaded = (await redis.scriptBuffer('reboundDetectLoad', missing, [])) as LoadedVisitor[];
    let next = 0;
    return states.map((state, i) => {
      if (state !== undefined) return state;
      const read = new VisitorState(visitorKeys[i] as string, loaded[next++]);
      cache.set(read.key, read);
      return read;
    });
  }

  /** One read-apply-write round: applied, or the ids of entries found no longer pending, or a conflict. */
  async function applyOnce(partition: number, entries: readonly Entry[], visitorKeys: readonly string[]): Promise<ApplyReply> {
    const states = await statesOf(visitorKeys);
    try {
      return await applyTo(states, partition, entries);
    } catch (err) {
      forget(visitorKeys);
      throw err;
    }
  }

  /** States changed by hits that were not written must not stay in the cache. */
  function forget(visitorKeys: readonly string[]): void {
    for (const key of visitorKeys) cache.delete(key);
  }

  async function applyTo(states: readonly VisitorState[], partition: number, entries: readonly Entry[]): Promise<ApplyReply> {
    const arms: TimerArms = new Map();
    for (const entry of entries) for (const { visitor, effect } of entry.hits) states[visitor]?.apply(effect, arms);
    const written: string[] = [];
    const writes: Array<[number, string, string[], string[]]> = [];
    const blobs: Buffer[] = [];
    for (const state of states) {
      const write = state.write();
      if (write === undefined) continue;
      written.push(state.key);
      writes.push([written.length + 2, state.version, write.set, write.remove]);
      blobs.push(write.state);
    }
    const plan = [entries.map((e) => e.id), writes, flatten(arms)];
    const reply = (await redis.script('reboundDetectApply', [stream(partition), keys.timers(partition), ...written], [detectGroup, encodePlain(plan), settings.visitorTtlMs, ...blobs])) as ApplyReply;
    if (reply[0] !== 0) forget(states.map((state) => state.key));
    else for (const state of states) state.committed();
    return reply;
  }

  return {
    name: detectGroup,
    input: 'hits',
    async process(items, partition) {
      const effects = definitions().effects;
      const visitorKeys: string[] = [];
      const visitorIndex = new Map<string, number>();
      let entries: Entry[] = items.map((item) => {
        if (!Array.isArray(item.value)) throw new ReboundError('CODEC_DECODE_FAILED', 'a hits entry must hold an array of hits');
        const hits: Entry['hits'] = [];
        for (const hit of item.value) {
          if (typeof hit?.visitorId !== 'string' || typeof hit.id !== 'string') continue;
          let visitor = visitorIndex.get(hit.visitorId);
          if (visitor === undefined) {
            visitor = visitorKeys.push(keys.visitor(partition, hit.visitorId)) - 1;
            visitorIndex.set(hit.visitorId, visitor);
          }
          hits.push({ visitor, effect: effects.effect(hit) });
        }
        return { id: item.id, hits };
      });
      for (let attempt = 1; entries.length > 0; ) {
        const reply = await applyOnce(partition, entries, visitorKeys);
        if (reply[0] === 0) break;
        if (reply[0] === 1) {
          const stale = new Set(reply[1]);
          entries = entries.filter((entry) => !stale.has(entry.id));
          continue;
        }
        if (++attempt > MAX_ATTEMPTS) throw new ReboundError('DETECT_STATE_CONFLICT', `${reply[1]} visitors of partition ${partition} changed while their batch was applied, ${MAX_ATTEMPTS} times in a row`);
      }
      return items.map(() => acknowledged());
    },
  };
}

/** member → due as {member, due, …}. */
function flatten(timers: ReadonlyMap<string, number>): Array<string | number> {
  const flat: Array<string | number> = [];
  for (const [member, due] of timers) flat.push(member, due);
  return flat;
}

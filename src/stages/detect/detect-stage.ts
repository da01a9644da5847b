// The detect stage: reads hit entries, evaluates them against the trigger index, takes the
// states of the batch's visitors from its cache or reads the missing ones in one call
// (lua/detect-load.lua), applies the hits to them in the process (visitor-state.ts), and writes
// the states, arms the timers and acknowledges the entries in one call (lua/detect-apply.lua)
// that refuses the write if a state changed since it was read (another detect process, a fired
// timer, an expiry); the batch's states are then read again and the hits applied again. A batch
// is applied exactly once. The runtime keeps one batch per partition in flight, so the cache
// holds what Redis holds unless another process wrote meanwhile, which the write check catches;
// it compares only the versions of states the process cannot vouch for (visitor-cache.ts).
import { decode } from '../../core/codec.js';
import { PackWriter } from '../../core/pack-writer.js';
import { ReboundError } from '../../core/errors.js';
import type { RedisPort } from '../../core/redis/client.js';
import type { Keys } from '../../core/redis/keys.js';
import type { Hit } from '../../model/hit.js';
import { acknowledged, type StageDefinition, type StageItem } from '../runtime/stage.js';
import type { DetectDefinitions } from './definitions.js';
import type { EffectBuilder } from './hit-effects.js';
import type { CachedVisitor, VisitorCache } from './visitor-cache.js';
import { newStateWrite, VisitorState, type LoadedVisitor, type TimerArms } from './visitor-state.js';

export const detectGroup = 'detect';

/** Reads and applications of one batch before it gives up (the runtime then retries the batch whole, with backoff). */
const MAX_ATTEMPTS = 8;

export interface DetectStageSettings {
  visitorTtlMs: number;
  /** Visitor states kept in the process between batches (shared with the timer task, timers.ts). */
  cache: VisitorCache;
}

/** detect-load.lua's reply per visitor: its fields, then the key's time to live (PTTL). */
type Loaded = [...LoadedVisitor, number];
/** [0, 1 when the expected token was found] | … (lua/detect-apply.lua). */
type ApplyReply = [0, 0 | 1] | [1, string[]] | [2, number];

/** The hits of an entry, decoded from its bytes (not item.value: the runtime would keep the decoded hits until the batch ends). */
function hitsOf(item: StageItem<Hit[]>): Hit[] {
  const value = decode<unknown>(item.data);
  if (!Array.isArray(value)) throw new ReboundError('CODEC_DECODE_FAILED', 'a hits entry must hold an array of hits');
  return value as Hit[];
}

/** Hits without a visitor id or a hit id are skipped. */
const applicable = (hit: Hit | undefined): hit is Hit => typeof hit?.visitorId === 'string' && typeof hit.id === 'string';

/** One attempt's visitors: in order of first hit, with their states from the cache or read. */
class BatchVisitors {
  readonly visitorIds: string[] = [];
  readonly #states: Array<CachedVisitor | undefined> = [];
  readonly #index = new Map<string, number>();
  readonly #cache: VisitorCache;

  constructor(cache: VisitorCache) {
    this.#cache = cache;
  }

  /** Adds the visitors of `hits`; whether every one of them has its state at hand. */
  add(hits: readonly Hit[]): boolean {
    let ready = true;
    for (const hit of hits) {
      if (!applicable(hit)) continue;
      let visitor = this.#index.get(hit.visitorId);
      if (visitor === undefined) {
        visitor = this.visitorIds.push(hit.visitorId) - 1;
        this.#index.set(hit.visitorId, visitor);
        // By visitor id: its hash is already computed, where a Redis key would be a new string to hash per batch.
        this.#states.push(this.#cache.get(hit.visitorId));
      }
      if (this.#states[visitor] === undefined) ready = false;
    }
    return ready;
  }

  /** Applies `hits`, all of whose visitors have their state at hand. */
  apply(hits: readonly Hit[], effects: EffectBuilder, arms: TimerArms): void {
    for (const hit of hits) if (applicable(hit)) (this.#states[this.#index.get(hit.visitorId) as number] as CachedVisitor).state.apply(effects.effect(hit), arms);
  }

  /** Reads the missing states in one call (lua/detect-load.lua) and caches them. */
  async load(redis: RedisPort, keys: Keys, partition: number): Promise<void> {
    const missing: number[] = [];
    for (let i = 0; i < this.#states.length; i++) if (this.#states[i] === undefined) missing.push(i);
    const missingKeys = missing.map((i) => keys.visitor(partition, this.visitorIds[i] as string));
    const at = Date.now();
    const loaded = (await redis.scriptBuffer('reboundDetectLoad', missingKeys, [])) as Loaded[];
    missing.forEach((i, n) => {
      const [state, legacyVersion, ids, ttl] = loaded[n] as Loaded;
      this.#states[i] = this.#cache.loaded(partition, this.visitorIds[i] as string, new VisitorState(missingKeys[n] as string, [state, legacyVersion, ids]), at, ttl);
    });
  }

  /** Every visitor's state (after load()). */
  get states(): readonly CachedVisitor[] {
    return this.#states as CachedVisitor[];
  }
}

export function detectStage(redis: RedisPort, keys: Keys, definitions: () => DetectDefinitions, settings: DetectStageSettings): StageDefinition<Hit[]> {
  const stream = (partition: number): string => keys.stream(partition, 'hits');
  const cache = settings.cache;
  // The batch's detect-apply plan and its states, one after the other (batches are written one at
  // a time, synchronously).
  const plan = new PackWriter();
  const states = new PackWriter();
  const write = newStateWrite();

  /** States changed by hits that were not written must not stay in the cache. */
  function forget(visitorIds: readonly string[]): void {
    for (const id of visitorIds) cache.delete(id);
  }

  /**
   * One read-apply-write round: applied, or the ids of entries found no longer pending, or a
   * conflict. Each entry's hits are decoded from its bytes and applied in the synchronous part,
   * as soon as their visitors' states are at hand, then dropped: hits alive while more are decoded
   * or while Redis answers live through a scavenge, which copies them (the decoded hits of the
   * batch were half of what the detect benchmark's scavenges copied). From the first entry with a
   * state to read on, entries only add their visitors; the states are read in one call and those
   * entries decoded again, in order (a visitor's hits are applied in stream order).
   */
  async function applyOnce(partition: number, items: ReadonlyArray<StageItem<Hit[]>>): Promise<ApplyReply> {
    // Taken before the states are read: a write since then by anyone else replaces it in Redis.
    const expected = cache.expected(partition);
    const effects = definitions().effects;
    const arms: TimerArms = new Map();
    const visitors = new BatchVisitors(cache);
    try {
      let applied = 0;
      for (let i = 0; i < items.length; i++) {
        const hits = hitsOf(items[i] as StageItem<Hit[]>);
        if (visitors.add(hits) && applied === i) {
          visitors.apply(hits, effects, arms);
          applied++;
        }
      }
      if (applied < items.length) {
        await visitors.load(redis, keys, partition);
        for (let i = applied; i < items.length; i++) visitors.apply(hitsOf(items[i] as StageItem<Hit[]>), effects, arms);
      }
      const token = cache.token();
      const at = Date.now();
      const { scriptKeys, args, written, expires } = planWrites(visitors.states, partition, items, arms, at);
      args.push(expected, token);
      const reply = (await redis.script('reboundDetectApply', scriptKeys, args)) as ApplyReply;
      if (reply[0] !== 0) {
        forget(visitors.visitorIds);
        return reply;
      }
      if (written.length > 0) cache.wrote(partition, token, reply[1] === 1);
      for (let i = 0; i < written.length; i++) {
        const entry = written[i] as CachedVisitor;
        entry.state.committed();
        cache.vouch(partition, entry, at, expires[i] as number);
      }
      return reply;
    } catch (err) {
      forget(visitors.visitorIds);
      throw err;
    }
  }

  /**
   * The detect-apply call that writes the batch's states (lua/detect-apply.lua, without its last
   * two arguments, the tokens), the states written and the time to live each sets (0: unchanged).
   */
  function planWrites(
    entries: readonly CachedVisitor[],
    partition: number,
    items: ReadonlyArray<StageItem<Hit[]>>,
    arms: TimerArms,
    now: number,
  ): { scriptKeys: string[]; args: Array<string | number | Buffer>; written: CachedVisitor[]; expires: number[] } {
    const scriptKeys: string[] = [stream(partition), keys.timers(partition), keys.visitorsWritten(partition)];
    // The plan {entryIds, writes, arms}. The writes are one flat list (a table per write costs Lua
    // more than the writes themselves): per write keyIndex, versionRead, check, state length,
    // expireMs, n, n set strings, m, m fields to remove.
    plan.clear(); // what a batch that failed half-way left
    states.clear();
    plan.array(3);
    plan.array(items.length);
    for (const item of items) plan.string(item.id);
    const writes = plan.openArray();
    let length = 0;
    const written: CachedVisitor[] = [];
    const expires: number[] = [];
    for (const entry of entries) {
      const state = entry.state;
      if (!state.writeTo(states, settings.visitorTtlMs, write)) continue;
      plan.number(scriptKeys.push(state.key));
      plan.number(state.version);
      plan.number(cache.trusted(partition, entry, now) ? 0 : 1);
      plan.number(write.stateLength);
      plan.number(write.expireMs);
      plan.number(write.set.length);
      for (const field of write.set) plan.string(field);
      plan.number(write.remove.length);
      for (const field of write.remove) plan.string(field);
      length += 7 + write.set.length + write.remove.length;
      written.push(entry);
      expires.push(write.expireMs);
    }
    plan.closeArray(writes, length);
    plan.array(arms.size * 2);
    for (const [member, due] of arms) {
      plan.string(member);
      plan.number(due);
    }
    return { scriptKeys, args: [detectGroup, plan.take(), states.take()], written, expires };
  }

  /** Applies the batch until it goes through (entries another consumer acknowledged meanwhile are left out). */
  async function applyAll(partition: number, items: ReadonlyArray<StageItem<Hit[]>>): Promise<void> {
    let pending = items;
    for (let attempt = 1; pending.length > 0; ) {
      const reply = await applyOnce(partition, pending);
      if (reply[0] === 0) break;
      if (reply[0] === 1) {
        const stale = new Set(reply[1]);
        pending = pending.filter((item) => !stale.has(item.id));
        continue;
      }
      if (++attempt > MAX_ATTEMPTS) throw new ReboundError('DETECT_STATE_CONFLICT', `${reply[1]} visitors of partition ${partition} changed while their batch was applied, ${MAX_ATTEMPTS} times in a row`);
    }
  }

  return {
    name: detectGroup,
    input: 'hits',
    async process(items, partition) {
      // One at a time with the partition's timer decisions (visitor-cache.ts).
      await cache.exclusive(partition, () => applyAll(partition, items));
      return items.map(() => acknowledged());
    },
  };
}

// The timer task: every tick, per partition, takes the due members of the timers sorted set and
// decides them in chunks through lua/detect-fire.lua, which re-checks each visit atomically and
// appends at most one trigger message per trigger and visit. Several processes may run it on
// the same partitions: the script's fired flag makes a lost race a no-op. While detect lags, a
// partition's timers wait for its hits: only those due before the arrival of the oldest hit entry
// not yet acknowledged are decided (lua/detect-watermark-1.lua), so a purchase still waiting in
// the stream is applied before the abandonment it cancels is decided. A chunk runs between the
// partition's detect batches in this process, and drops the states it fired from their cache
// (visitor-cache.ts).
import { encodePlain } from '../../core/codec.js';
import type { Clock } from '../../core/clock.js';
import { asReboundError } from '../../core/errors.js';
import type { Logger } from '../../core/log.js';
import { counter, histogram } from '../../core/metrics.js';
import type { RedisPort } from '../../core/redis/client.js';
import type { Keys } from '../../core/redis/keys.js';
import { dayOf, firedHourlyTtlMs, hourOf } from '../../model/fired-hourly.js';
import type { DetectDefinitions } from './definitions.js';
import { detectGroup } from './detect-stage.js';
import { defaultVisit } from './hit-effects.js';
import type { CompiledTrigger } from './trigger-index.js';
import type { VisitorCache } from './visitor-cache.js';

const timerLag = histogram('rebound_timer_lag_seconds', 'How late due trigger timers are decided', [], [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300]);
const fired = counter('rebound_triggers_fired_total', 'Trigger messages appended to the trigger log', ['trigger']);
const hitToFire = histogram('rebound_hit_to_fire_seconds', 'From the last hit of the visit to the trigger message', ['trigger']);
const decisions = counter('rebound_timer_decisions_total', 'Due timers decided, by outcome', ['outcome']);

/** Due members decided per script call: bounded so that one call never holds Redis for long. */
const FIRE_CHUNK = 200;

export interface TimerSettings {
  tickMs: number;
  batch: number;
}

export interface TimerContext {
  redis: RedisPort;
  keys: Keys;
  /** The partitions whose timers this process decides now: its stage runner's share (they move with it). */
  partitions: () => readonly number[];
  definitions: () => DetectDefinitions;
  clock: Clock;
  logger: Logger;
  settings: TimerSettings;
  /** The detect stage's visitor states (detect-stage.ts). */
  cache: VisitorCache;
}

/** `slot|visit|visitorId` → its parts (the visitor id may contain `|`). */
export function parseMember(member: string): { slot: number; visit: number; visitorId: string } | undefined {
  const first = member.indexOf('|');
  const second = member.indexOf('|', first + 1);
  if (first < 0 || second < 0) return undefined;
  return { slot: Number(member.slice(0, first)), visit: Number(member.slice(first + 1, second)), visitorId: member.slice(second + 1) };
}

export class TimerTask {
  readonly #ctx: TimerContext;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> = Promise.resolve();
  #stopped = false;

  constructor(ctx: TimerContext) {
    this.#ctx = ctx;
  }

  start(): void {
    this.#timer = setInterval(() => {
      if (this.#stopped) return;
      this.#running = this.#running.then(async () => void (await this.tick())).catch((err: unknown) => {
        this.#ctx.logger.warn({ err: asReboundError(err).message }, 'timer tick failed; retrying next tick');
      });
    }, this.#ctx.settings.tickMs);
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#timer);
    await this.#running;
  }

  /** Decides every member due now on every partition served; returns how many fired. */
  async tick(): Promise<number> {
    const counts = await Promise.all(this.#ctx.partitions().map((p) => this.#partition(p)));
    return counts.reduce((a, b) => a + b, 0);
  }

  async #partition(partition: number): Promise<number> {
    const { redis, keys, clock, settings } = this.#ctx;
    const now = clock.now();
    let due = await redis.zrangeDue(keys.timers(partition), now, settings.batch);
    if (due.length === 0) return 0;
    const watermark = Number(await redis.script('reboundDetectWatermark', [keys.stream(partition, 'hits')], [detectGroup]));
    if (watermark >= 0 && watermark <= now) {
      const decidable = due.filter((d) => d.score < watermark);
      if (decidable.length < due.length) decisions.labels('held').inc(due.length - decidable.length);
      due = decidable;
    }
    let firedCount = 0;
    for (let i = 0; i < due.length; i += FIRE_CHUNK) {
      const chunk = due.slice(i, i + FIRE_CHUNK);
      firedCount += await this.#ctx.cache.exclusive(partition, () => this.#decide(partition, chunk, now));
    }
    return firedCount;
  }

  /** One script call decides a chunk of due members of a partition (lua/detect-fire.lua). */
  async #decide(partition: number, due: ReadonlyArray<{ member: string; score: number }>, now: number): Promise<number> {
    const { redis, keys, cache } = this.#ctx;
    const definitions = this.#ctx.definitions();
    const visitorKeys: string[] = [];
    const keyIndex = new Map<string, number>();
    const triggers = new Map<number, CompiledTrigger>();
    const members: Array<[string, number, number, string, number]> = [];
    for (const { member, score } of due) {
      const parsed = parseMember(member);
      if (!parsed) {
        await redis.zrem(keys.timers(partition), member); // not ours: nothing can fire it
        continue;
      }
      timerLag.observe(Math.max(0, now - score) / 1000);
      const trigger = definitions.bySlot.get(parsed.slot);
      if (trigger) triggers.set(parsed.slot, trigger);
      let k = keyIndex.get(parsed.visitorId);
      if (k === undefined) {
        visitorKeys.push(keys.visitor(partition, parsed.visitorId));
        k = visitorKeys.length + 3; // KEYS[1] timers, KEYS[2] trigger log, KEYS[3] the last-write token
        keyIndex.set(parsed.visitorId, k);
      }
      members.push([member, parsed.slot, parsed.visit, parsed.visitorId, k]);
    }
    if (members.length === 0) return 0;
    // Each trigger's hourly fired counter of today follows the visitor keys (reports).
    const planned = [...triggers.values()];
    const counterKeys = planned.map((t) => keys.firedHourly(partition, t.stored.triggerId, dayOf(now)));
    const plan = [planned.map((t, i) => [...this.#triggerPlan(t, definitions), visitorKeys.length + 4 + i]), members];
    const scriptKeys = [keys.timers(partition), keys.stream(partition, 'fired'), keys.visitorsWritten(partition), ...visitorKeys, ...counterKeys];
    const token = cache.token();
    const [outcomes, written] = (await redis.script('reboundDetectFire', scriptKeys, [now, encodePlain(plan), hourOf(now), firedHourlyTtlMs, cache.expected(partition), token])) as [string[], 0 | 1 | 2];
    if (written !== 0) cache.wrote(partition, token, written === 1);
    let firedCount = 0;
    outcomes.forEach((outcome, i) => {
      const last = Number(outcome);
      if (Number.isNaN(last)) {
        decisions.labels(outcome).inc();
        return;
      }
      // The fired flag changed the visitor's state in Redis.
      cache.delete(members[i]![3]);
      firedCount++;
      decisions.labels('fired').inc();
      const trigger = triggers.get(members[i]![1]) as CompiledTrigger;
      fired.labels(trigger.stored.id).inc();
      hitToFire.labels(trigger.stored.id).observe(Math.max(0, now - last) / 1000);
    });
    return firedCount;
  }

  #triggerPlan(trigger: CompiledTrigger, definitions: DetectDefinitions): unknown[] {
    const stored = trigger.stored;
    const visit = definitions.sources.get(stored.source)?.visit ?? defaultVisit;
    const delay = stored.type === 'abandonment' ? stored.inactivityMs : stored.type === 'sessionEnd' ? visit.inactivity : 0;
    const conditions = trigger.visitConditions.some((c) => c.length > 0) ? trigger.visitConditions.map((c) => c.map((m) => [m.metric, m.op, m.value ?? 0])) : false;
    const header = JSON.stringify({ triggerId: stored.triggerId, triggerName: stored.id, version: stored.version, source: stored.source });
    return [stored.slot, stored.type, delay, stored.include.match, stored.include.containers.length, conditions, header];
  }
}

// The timer task: every tick, per partition, takes the due members of the timers sorted set and
// decides each one through lua/detect-fire-3.lua, which re-checks the visit atomically and
// appends at most one trigger message per trigger and visit. Several processes may run it on
// the same partitions: the script's fired flag makes a lost race a no-op.
import { encodePlain } from '../../core/codec.js';
import type { Clock } from '../../core/clock.js';
import { asReboundError } from '../../core/errors.js';
import type { Logger } from '../../core/log.js';
import { counter, histogram } from '../../core/metrics.js';
import type { RedisPort } from '../../core/redis/client.js';
import type { Keys } from '../../core/redis/keys.js';
import type { DetectDefinitions } from './definitions.js';
import { defaultVisit } from './visitor-plan.js';
import type { CompiledTrigger } from './trigger-index.js';

const timerLag = histogram('rebound_timer_lag_seconds', 'How late due trigger timers are decided', [], [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300]);
const fired = counter('rebound_triggers_fired_total', 'Trigger messages appended to the trigger log', ['trigger']);
const hitToFire = histogram('rebound_hit_to_fire_seconds', 'From the last hit of the visit to the trigger message', ['trigger']);
const decisions = counter('rebound_timer_decisions_total', 'Due timers decided, by outcome', ['outcome']);

export interface TimerSettings {
  tickMs: number;
  batch: number;
}

export interface TimerContext {
  redis: RedisPort;
  keys: Keys;
  partitions: readonly number[];
  definitions: () => DetectDefinitions;
  clock: Clock;
  logger: Logger;
  settings: TimerSettings;
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
    const counts = await Promise.all(this.#ctx.partitions.map((p) => this.#partition(p)));
    return counts.reduce((a, b) => a + b, 0);
  }

  async #partition(partition: number): Promise<number> {
    const { redis, keys, clock, settings } = this.#ctx;
    const now = clock.now();
    const due = await redis.zrangeDue(keys.timers(partition), now, settings.batch);
    const outcomes = await Promise.all(due.map(({ member, score }) => this.#decide(partition, member, score, now)));
    return outcomes.filter((o) => o === 'fired').length;
  }

  async #decide(partition: number, member: string, due: number, now: number): Promise<string> {
    const { redis, keys } = this.#ctx;
    const parsed = parseMember(member);
    const trigger = parsed && this.#ctx.definitions().bySlot.get(parsed.slot);
    const timers = keys.timers(partition);
    if (!parsed || !trigger) {
      // A deleted or disabled trigger, or a member that is not ours: nothing can fire it.
      await redis.zrem(timers, member);
      decisions.labels('gone').inc();
      return 'gone';
    }
    timerLag.observe(Math.max(0, now - due) / 1000);
    const reply = await redis.script(
      'reboundDetectFire',
      [keys.visitor(partition, parsed.visitorId), timers, keys.stream(partition, 'fired')],
      this.#fireArgs(member, now, parsed, trigger),
    );
    const [outcome, last] = Array.isArray(reply) ? (reply as [string, string]) : [String(reply), undefined];
    decisions.labels(outcome).inc();
    if (outcome === 'fired') {
      fired.labels(trigger.stored.id).inc();
      if (last !== undefined) hitToFire.labels(trigger.stored.id).observe(Math.max(0, now - Number(last)) / 1000);
    }
    return outcome;
  }

  #fireArgs(member: string, now: number, parsed: { slot: number; visit: number; visitorId: string }, trigger: CompiledTrigger): Array<string | number | Buffer> {
    const stored = trigger.stored;
    const visit = this.#ctx.definitions().sources.get(stored.source)?.visit ?? defaultVisit;
    const delay = stored.type === 'abandonment' ? stored.inactivityMs : stored.type === 'sessionEnd' ? visit.inactivity : 0;
    const hasVisitConditions = trigger.visitConditions.some((c) => c.length > 0);
    const visitConditions = hasVisitConditions ? encodePlain(trigger.visitConditions.map((c) => c.map((m) => [m.metric, m.op, m.value ?? 0]))) : '';
    const header = JSON.stringify({ triggerId: stored.triggerId, triggerName: stored.id, version: stored.version, source: stored.source });
    return [member, now, parsed.slot, parsed.visit, parsed.visitorId, stored.type, delay, stored.include.match, stored.include.containers.length, visitConditions, header];
  }
}

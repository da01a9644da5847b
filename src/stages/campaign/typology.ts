// Typology rules that are plain computations or one atomic Redis call (SPEC §6.4): quiet hours in
// the profile's timezone and fatigue over sliding windows (lua/fatigue-1.lua: check and record in
// one step, so concurrent processes never both pass a `max: 1`).
import type { RedisPort } from '../../core/redis/client.js';
import type { Keys } from '../../core/redis/keys.js';
import type { FatigueRule, QuietHours } from '../../model/event.js';

const minutesOf = (clock: string): number => {
  const [hours, minutes] = clock.split(':').map(Number) as [number, number];
  return hours * 60 + minutes;
};

const formatters = new Map<string, Intl.DateTimeFormat>();

/** Minutes since local midnight in `timeZone` (an unknown zone falls back to UTC). */
function localMinutes(now: number, timeZone: string): number {
  let format = formatters.get(timeZone);
  if (format === undefined) {
    try {
      format = new Intl.DateTimeFormat('en-GB', { timeZone, hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
    } catch {
      format = new Intl.DateTimeFormat('en-GB', { timeZone: 'UTC', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
    }
    formatters.set(timeZone, format);
  }
  const parts = format.formatToParts(now);
  const part = (type: string) => Number(parts.find((p) => p.type === type)?.value ?? 0);
  return part('hour') * 60 + part('minute');
}

/**
 * When quiet hours hold at `now` in `timeZone`, the epoch ms at which they end (to the minute);
 * otherwise undefined. A window may wrap midnight (21:00 → 08:00).
 */
export function quietUntil(quiet: QuietHours, now: number, timeZone: string): number | undefined {
  const from = minutesOf(quiet.from);
  const to = minutesOf(quiet.to);
  if (from === to) return undefined;
  const local = localMinutes(now, timeZone);
  const inside = from < to ? local >= from && local < to : local >= from || local < to;
  if (!inside) return undefined;
  const minutesLeft = (to - local + 24 * 60) % (24 * 60);
  const startOfMinute = now - (now % 60_000);
  return startOfMinute + minutesLeft * 60_000;
}

/**
 * Checks the profile's fatigue rules for a message about to be sent and records it when they pass.
 * Returns the index of the rule that excludes it, or undefined when it passes. Idempotent per
 * message id: a batch retried after a crash passes again instead of counting twice.
 */
export async function checkFatigue(
  redis: RedisPort,
  keys: Keys,
  profileId: string,
  messageId: string,
  channel: 'email' | 'sms',
  rules: readonly FatigueRule[],
  now: number,
): Promise<number | undefined> {
  if (rules.length === 0) return undefined;
  const args: Array<string | number> = [now, `${messageId}|${channel}`, rules.length];
  for (const rule of rules) args.push(rule.max, rule.per, rule.channel);
  const rule = Number(await redis.script('reboundFatigue', [keys.fatigue(profileId)], args));
  return rule === 0 ? undefined : rule - 1;
}

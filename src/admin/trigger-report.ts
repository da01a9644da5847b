// The trigger report (SPEC §8): how many trigger messages a trigger fired per hour (detect's
// counters, model/fired-hourly.ts, kept ≥ 5 days) and, per event that received them, how many it
// received and how many ended in each status, with the most common reasons (the campaign and
// deliver stages' counters, `keys.triggerStats`: fields `<eventId>|received`,
// `<eventId>|<status>` and `<eventId>|<status>|<reason>`). Both are summed over partitions. The
// event `-` holds the trigger messages no published event handled (routingFailed).
import { ReboundError } from '../core/errors.js';
import type { RedisPort } from '../core/redis/client.js';
import type { Keys } from '../core/redis/keys.js';
import { dayOf, hourMs, hourOf } from '../model/fired-hourly.js';
import { loadTriggers } from '../model/trigger-store.js';

export interface HourCount {
  /** Start of the hour, ISO 8601 (UTC). */
  hour: string;
  at: number;
  count: number;
}

export interface ReasonCount {
  status: string;
  reason: string;
  count: number;
}

export interface EventOutcomes {
  eventId: string;
  received: number;
  /** Sent: handed to the channel. */
  processed: number;
  /** Received and not yet final (waiting, paused, in the outbox or retrying). */
  inProgress: number;
  /** Final statuses, each with its count. */
  statuses: Record<string, number>;
  /** The most common reasons first. */
  reasons: ReasonCount[];
}

export interface TriggerReport {
  trigger: { id: string; triggerId: string; name?: string };
  fired: { total: number; from: string; hours: HourCount[] };
  events: EventOutcomes[];
}

export interface ReportOptions {
  now: number;
  /** Hours shown, the current one included. */
  hours: number;
  /** Reasons shown per event. */
  top: number;
}

/** The trigger by slug (or by triggerId); a trigger without a definition that has counts (Adobe's, via POST /v1/triggers) is reported by its id. */
async function resolveTrigger(redis: RedisPort, keys: Keys, id: string, stats: Record<string, number>): Promise<TriggerReport['trigger']> {
  const trigger = (await loadTriggers(redis, keys)).triggers.find((t) => t.id === id || t.triggerId === id);
  if (trigger !== undefined) return { id: trigger.id, triggerId: trigger.triggerId, name: trigger.name };
  if (Object.keys(stats).length > 0) return { id, triggerId: id };
  throw new ReboundError('DEFINITION_NOT_FOUND', `no trigger ${JSON.stringify(id)} and no counts for a trigger with this id`);
}

async function summed(redis: RedisPort, hashes: readonly string[]): Promise<Record<string, number>> {
  const total: Record<string, number> = {};
  for (const hash of await Promise.all(hashes.map((key) => redis.hgetall(key)))) {
    for (const [field, value] of Object.entries(hash)) total[field] = (total[field] ?? 0) + Number(value);
  }
  return total;
}

async function firedHours(redis: RedisPort, keys: Keys, triggerId: string, options: ReportOptions): Promise<TriggerReport['fired']> {
  const last = hourOf(options.now);
  const first = last - (options.hours - 1) * hourMs;
  const days = Array.from({ length: dayOf(last) - dayOf(first) + 1 }, (_, i) => dayOf(first) + i);
  const counts = await summed(redis, keys.allPartitions().flatMap((p) => days.map((day) => keys.firedHourly(p, triggerId, day))));
  const hours = Array.from({ length: options.hours }, (_, i): HourCount => {
    const at = first + i * hourMs;
    return { hour: new Date(at).toISOString(), at, count: counts[String(at)] ?? 0 };
  });
  return { total: hours.reduce((sum, h) => sum + h.count, 0), from: new Date(first).toISOString(), hours };
}

function outcomesOf(stats: Record<string, number>, top: number): EventOutcomes[] {
  const events = new Map<string, EventOutcomes>();
  const of = (eventId: string): EventOutcomes => {
    let event = events.get(eventId);
    if (event === undefined) events.set(eventId, (event = { eventId, received: 0, processed: 0, inProgress: 0, statuses: {}, reasons: [] }));
    return event;
  };
  for (const [field, count] of Object.entries(stats)) {
    const [eventId = '', status = '', ...rest] = field.split('|');
    const event = of(eventId);
    if (status === 'received' && rest.length === 0) event.received += count;
    else if (rest.length === 0) event.statuses[status] = (event.statuses[status] ?? 0) + count;
    else event.reasons.push({ status, reason: rest.join('|'), count });
  }
  for (const event of events.values()) {
    event.processed = event.statuses.processed ?? 0;
    const final = Object.values(event.statuses).reduce((sum, n) => sum + n, 0);
    event.inProgress = Math.max(0, event.received - final);
    event.reasons = event.reasons.sort((a, b) => b.count - a.count || a.reason.localeCompare(b.reason)).slice(0, top);
  }
  return [...events.values()].sort((a, b) => b.received - a.received || a.eventId.localeCompare(b.eventId));
}

export async function triggerReport(redis: RedisPort, keys: Keys, id: string, options: ReportOptions): Promise<TriggerReport> {
  const byId = await summed(redis, keys.allPartitions().map((p) => keys.triggerStats(p, id)));
  const trigger = await resolveTrigger(redis, keys, id, byId);
  const stats = trigger.triggerId === id ? byId : await summed(redis, keys.allPartitions().map((p) => keys.triggerStats(p, trigger.triggerId)));
  return { trigger, fired: await firedHours(redis, keys, trigger.triggerId, options), events: outcomesOf(stats, options.top) };
}

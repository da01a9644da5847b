// Report routes (SPEC §8):
//   GET /admin/triggers/{id}/report?hours=&top=    fired per hour, received vs each status, top reasons
//   GET /admin/events/{id}/messages?status=&limit= an event's latest records, newest first
//   GET /admin/profiles/{id}/messages?status=&limit= what a profile was sent and why not
//   GET /admin/messages/{id}?partition=             one record (a proof's outcome, say)
import { ReboundError } from '../core/errors.js';
import type { RedisPort } from '../core/redis/client.js';
import type { Keys } from '../core/redis/keys.js';
import { campaignKeys } from '../model/event-store.js';
import { firedHourlyMaxHours } from '../model/fired-hourly.js';
import { messageStatuses, type MessageStatus } from '../model/message.js';
import type { ProfileStore } from '../model/profile-store.js';
import { eventMessages, getMessage, profileMessages, type ListOptions } from './message-records.js';
import { limitOf } from './routes-operations.js';
import { json, type Router } from './router.js';
import { triggerReport } from './trigger-report.js';

export interface ReportDeps {
  redis: RedisPort;
  keys: Keys;
  profiles: ProfileStore;
  now(): number;
}

/** A whole-number query parameter from 1 to max, default when absent. */
function whole(query: URLSearchParams, name: string, fallback: number, min: number, max: number): number {
  const text = query.get(name);
  if (text === null) return fallback;
  const value = Number(text);
  if (!/^\d{1,9}$/.test(text) || value < min || value > max) throw new ReboundError('ADMIN_QUERY_INVALID', `${name}: a whole number from ${min} to ${max}`);
  return value;
}

function listOptions(query: URLSearchParams): ListOptions {
  const status = query.get('status');
  const options: ListOptions = { limit: limitOf(query, 50, 1000) };
  if (status === null || status === '') return options;
  if (!messageStatuses.includes(status as MessageStatus)) throw new ReboundError('ADMIN_QUERY_INVALID', `status: one of ${messageStatuses.join(', ')}`);
  return { ...options, status };
}

export function registerReportRoutes(router: Router, deps: ReportDeps): void {
  const { redis, keys } = deps;
  router.add('GET', '/admin/triggers/:id/report', async ({ params, query }) => {
    const options = { now: deps.now(), hours: whole(query, 'hours', firedHourlyMaxHours, 1, firedHourlyMaxHours), top: whole(query, 'top', 5, 1, 100) };
    return json(await triggerReport(redis, keys, params.id as string, options));
  });
  router.add('GET', '/admin/events/:id/messages', async ({ params, query }) => {
    const eventId = params.id as string;
    const list = await eventMessages(redis, keys, eventId, listOptions(query));
    if (list.scanned === 0 && (await redis.hget(campaignKeys(keys).events, eventId)) === null) throw new ReboundError('DEFINITION_NOT_FOUND', `no event ${eventId} and no records of it`);
    return json({ eventId, ...list });
  });
  router.add('GET', '/admin/profiles/:id/messages', async ({ params, query }) => {
    const profileId = params.id as string;
    const list = await profileMessages(redis, keys, profileId, listOptions(query));
    if (list.scanned === 0 && (await deps.profiles.get(profileId)) === undefined) throw new ReboundError('ADMIN_NOT_FOUND', `no profile ${profileId} and no messages for it`);
    return json({ profileId, ...list });
  });
  router.add('GET', '/admin/messages/:id', async ({ params, query }) => {
    const partition = query.get('partition') === null ? undefined : whole(query, 'partition', 0, 0, keys.partitions - 1);
    const record = await getMessage(redis, keys, params.id as string, partition);
    if (record === undefined) throw new ReboundError('ADMIN_NOT_FOUND', `no message ${params.id}${partition === undefined ? '' : ` in partition ${partition}`} (records are kept campaign.recordRetention)`);
    return json(record);
  });
}

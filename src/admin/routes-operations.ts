// Routes of the trigger log and the dead letters: GET /admin/journal (SPEC §5.1), its named
// consumers (GET /admin/journal/consumers, DELETE /admin/journal/consumers/{name}),
// GET /admin/dlq, POST /admin/dlq/replay and POST /admin/dlq/purge (SPEC §10).
import { z } from 'zod';
import { ReboundError } from '../core/errors.js';
import type { RedisPort } from '../core/redis/client.js';
import type { Keys } from '../core/redis/keys.js';
import { listDeadLetters, maxSelected, purgeDeadLetters, replayDeadLetters, type DeadLetterSelection } from './dlq.js';
import { checkConsumerName, dropConsumer, journalLimits, listConsumers, pullJournal } from './journal.js';
import { parseBody } from './routes-definitions.js';
import { json, type Router } from './router.js';

export interface OperationsDeps {
  redis: RedisPort;
  keys: Keys;
  imsOrg: string;
}

/** `limit` of a query: a whole number from 1 to max, default when absent. */
export function limitOf(query: URLSearchParams, fallback: number, max: number): number {
  const text = query.get('limit');
  if (text === null) return fallback;
  const limit = Number(text);
  if (!/^\d+$/.test(text) || limit < 1 || limit > max) throw new ReboundError('ADMIN_QUERY_INVALID', `limit: a whole number from 1 to ${max}`);
  return limit;
}

const selection = z
  .object({
    ids: z.array(z.string().max(512)).max(maxSelected).optional(),
    all: z.boolean().optional(),
    stream: z.string().min(1).max(200).optional(),
  })
  .strict()
  .refine((s) => (s.ids !== undefined) !== (s.all === true), 'give either ids (as listed by GET /admin/dlq) or all: true');

function selectionOf(body: unknown): DeadLetterSelection {
  const parsed = parseBody(selection, body);
  return { ...(parsed.ids === undefined ? {} : { ids: parsed.ids }), ...(parsed.stream === undefined ? {} : { stream: parsed.stream }) };
}

export function registerOperationRoutes(router: Router, { redis, keys, imsOrg }: OperationsDeps): void {
  router.add('GET', '/admin/journal', async ({ query }) => {
    const consumer = checkConsumerName(query.get('consumer'));
    const since = query.get('since');
    const limit = limitOf(query, journalLimits.defaultLimit, journalLimits.maxLimit);
    return json(await pullJournal(redis, keys, { consumer, limit, imsOrg, ...(since === null || since === '' ? {} : { since }) }));
  });
  router.add('GET', '/admin/journal/consumers', async () => json({ items: await listConsumers(redis, keys) }));
  router.add('DELETE', '/admin/journal/consumers/:name', async ({ params }) => {
    const consumer = checkConsumerName(params.name ?? null);
    if (!(await dropConsumer(redis, keys, consumer))) throw new ReboundError('ADMIN_NOT_FOUND', `no journal consumer ${consumer}`);
    return json({ deleted: { consumer } });
  });
  router.add('GET', '/admin/dlq', async ({ query }) => {
    const stream = query.get('stream');
    return json(await listDeadLetters(redis, keys, { limit: limitOf(query, 100, 10_000), ...(stream === null ? {} : { stream }) }));
  });
  router.add('POST', '/admin/dlq/replay', async ({ body }) => json(await replayDeadLetters(redis, keys, selectionOf(body))));
  router.add('POST', '/admin/dlq/purge', async ({ body }) => json(await purgeDeadLetters(redis, keys, selectionOf(body))));
}

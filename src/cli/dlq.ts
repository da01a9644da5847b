// `rebound dlq list|replay|purge`: the dead letters, straight from Redis (like `rebound status`),
// so they can be inspected and replayed while no admin role runs; the same functions serve
// GET /admin/dlq and POST /admin/dlq/replay|purge.
import { listDeadLetters, purgeDeadLetters, replayDeadLetters, type DeadLetter, type DeadLetterSelection } from '../admin/dlq.js';
import { loadConfig } from '../core/config.js';
import { ReboundError } from '../core/errors.js';
import type { RedisPort } from '../core/redis/client.js';
import { Keys } from '../core/redis/keys.js';
import { connectForCommand } from './connect.js';

export interface DlqOptions {
  stream?: string;
  limit?: string;
  json?: boolean;
  all?: boolean;
  config?: string;
}

async function withRedis<T>(options: DlqOptions, run: (redis: RedisPort, keys: Keys) => Promise<T>): Promise<T> {
  const config = loadConfig(options.config === undefined ? {} : { file: options.config });
  const redis = await connectForCommand(config);
  try {
    return await run(redis, new Keys(config.prefix, config.partitions));
  } finally {
    await redis.close();
  }
}

function selectionOf(ids: readonly string[], options: DlqOptions): DeadLetterSelection {
  return { ...(ids.length > 0 ? { ids } : {}), ...(options.stream === undefined ? {} : { stream: options.stream }) };
}

function formatDeadLetters(deadLetters: readonly DeadLetter[], total: number): string {
  const lines = deadLetters.map((d) => `${d.id}  ${new Date(d.deadLetteredAt).toISOString()}  group=${d.group} deliveries=${d.deliveries} bytes=${d.bytes}\n    ${d.error}`);
  lines.push(total === 0 ? 'no dead letters' : `${deadLetters.length} of ${total} dead letters shown`);
  return lines.join('\n');
}

export async function dlqList(options: DlqOptions): Promise<void> {
  const limit = options.limit === undefined ? 100 : Number(options.limit);
  if (!Number.isInteger(limit) || limit < 1) throw new ReboundError('ADMIN_QUERY_INVALID', '--limit: a whole number ≥ 1');
  const listed = await withRedis(options, (redis, keys) => listDeadLetters(redis, keys, { limit, ...(options.stream === undefined ? {} : { stream: options.stream }) }));
  process.stdout.write(`${options.json ? JSON.stringify(listed) : formatDeadLetters(listed.deadLetters, listed.total)}\n`);
}

export async function dlqReplay(ids: string[], options: DlqOptions): Promise<void> {
  const result = await withRedis(options, (redis, keys) => replayDeadLetters(redis, keys, selectionOf(ids, options)));
  if (options.json) process.stdout.write(`${JSON.stringify(result)}\n`);
  else {
    const notes = [result.missing.length > 0 ? `${result.missing.length} not found` : '', result.empty.length > 0 ? `${result.empty.length} kept (no data to replay)` : ''].filter(Boolean);
    process.stdout.write(`replayed ${result.replayed.length}${notes.length > 0 ? `; ${notes.join('; ')}` : ''}\n`);
  }
}

export async function dlqPurge(ids: string[], options: DlqOptions): Promise<void> {
  if (ids.length === 0 && options.all !== true) throw new ReboundError('ADMIN_QUERY_INVALID', 'name the dead letters to purge (ids as listed), or pass --all');
  const result = await withRedis(options, (redis, keys) => purgeDeadLetters(redis, keys, selectionOf(ids, options)));
  process.stdout.write(options.json ? `${JSON.stringify(result)}\n` : `purged ${result.purged}\n`);
}

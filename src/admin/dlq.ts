// Dead letters (SPEC §10): the entries a stage gave up on, in the dead-letter stream of their
// stream and partition (`keys.deadLetters(p, stream)`, written by lua/dead-letter-3.lua with the
// fields id, group, error, deliveries and the original data `d`). List them, replay them (each
// put back on its stream and removed from the dead letters in one script, lua/dlq-replay-2.lua:
// every consumer group of that stream sees it again), or purge them. Used by the admin API and
// by `rebound dlq`, which talks to Redis directly.
import { ReboundError } from '../core/errors.js';
import type { RedisPort } from '../core/redis/client.js';
import type { Keys } from '../core/redis/keys.js';

export interface DeadLetter {
  /** `<partition>/<stream>/<dead letter id>`: what replay and purge take. */
  id: string;
  stream: string;
  partition: number;
  /** The entry's id in its stream when it was dead-lettered. */
  entryId: string;
  group: string;
  error: string;
  deliveries: number;
  deadLetteredAt: number;
  /** Size of the entry's data. */
  bytes: number;
}

export interface DeadLetterSelection {
  /** Dead letter ids as listed; absent = every dead letter (of `stream` when given). */
  ids?: readonly string[];
  stream?: string;
}

export interface ReplayResult {
  replayed: Array<{ id: string; newEntryId: string }>;
  /** Not found (replayed or purged meanwhile, or never existed). */
  missing: string[];
  /** Kept: they hold no data (the entry was gone when it was dead-lettered). */
  empty: string[];
}

const pageSize = 1000;
/** A replay or purge of everything handles at most this many dead letters per call. */
export const maxSelected = 100_000;

interface DeadLetterStream {
  key: string;
  stream: string;
  partition: number;
}

interface Address extends DeadLetterStream {
  entry: string;
}

/** Every dead-letter stream under the prefix (SCAN: tooling, never on a hot path). */
async function deadLetterStreams(redis: RedisPort, keys: Keys, stream?: string): Promise<DeadLetterStream[]> {
  const found: DeadLetterStream[] = [];
  for (const key of await redis.scanKeys(`${keys.prefix}:{p*}:dlq:*`, 'stream')) {
    const parsed = parseKey(keys, key);
    if (parsed !== undefined && (stream === undefined || parsed.stream === stream)) found.push(parsed);
  }
  return found.sort((a, b) => a.partition - b.partition || a.stream.localeCompare(b.stream));
}

function parseKey(keys: Keys, key: string): DeadLetterStream | undefined {
  const match = /^\{p(\d+)\}:dlq:(.+)$/.exec(key.slice(keys.prefix.length + 1));
  if (match === null || !key.startsWith(`${keys.prefix}:`)) return undefined;
  const partition = Number(match[1]);
  const stream = match[2] as string;
  return partition < keys.partitions && keys.deadLetters(partition, stream) === key ? { key, stream, partition } : undefined;
}

function parseId(keys: Keys, id: string): Address {
  const match = /^(\d+)\/(.+)\/(\d+-\d+)$/.exec(id);
  const partition = Number(match?.[1]);
  if (match === null || partition >= keys.partitions) throw new ReboundError('ADMIN_BODY_MALFORMED', `ids: ${JSON.stringify(id)} is not a dead letter id (<partition>/<stream>/<id>, as listed)`);
  const stream = match[2] as string;
  return { key: keys.deadLetters(partition, stream), stream, partition, entry: match[3] as string };
}

export async function listDeadLetters(redis: RedisPort, keys: Keys, options: { stream?: string; limit: number }): Promise<{ deadLetters: DeadLetter[]; total: number }> {
  const streams = await deadLetterStreams(redis, keys, options.stream);
  const all: DeadLetter[] = [];
  let total = 0;
  for (const at of streams) {
    total += await redis.xlen(at.key);
    for (const record of await redis.xrangeRecords(at.key, '-', '+', options.limit)) {
      all.push({
        id: `${at.partition}/${at.stream}/${record.id}`,
        stream: at.stream,
        partition: at.partition,
        entryId: record.fields.id ?? '',
        group: record.fields.group ?? '',
        error: record.fields.error ?? '',
        deliveries: Number(record.fields.deliveries ?? 0),
        deadLetteredAt: Number(record.id.split('-', 1)[0]),
        bytes: record.data?.length ?? 0,
      });
    }
  }
  all.sort((a, b) => a.deadLetteredAt - b.deadLetteredAt || a.id.localeCompare(b.id));
  return { deadLetters: all.slice(0, options.limit), total };
}

/** The dead letters a selection names: the given ids, or every one (up to maxSelected). */
async function selected(redis: RedisPort, keys: Keys, selection: DeadLetterSelection): Promise<Address[]> {
  if (selection.ids !== undefined) return selection.ids.map((id) => parseId(keys, id)).filter((a) => selection.stream === undefined || a.stream === selection.stream);
  const addresses: Address[] = [];
  for (const at of await deadLetterStreams(redis, keys, selection.stream)) {
    let after = '-';
    while (addresses.length < maxSelected) {
      const page = await redis.xrange(at.key, after, '+', pageSize);
      for (const entry of page) addresses.push({ ...at, entry: entry.id });
      if (page.length < pageSize) break;
      after = `(${page[page.length - 1]?.id as string}`;
    }
  }
  return addresses.slice(0, maxSelected);
}

export async function replayDeadLetters(redis: RedisPort, keys: Keys, selection: DeadLetterSelection): Promise<ReplayResult> {
  const result: ReplayResult = { replayed: [], missing: [], empty: [] };
  for (const at of await selected(redis, keys, selection)) {
    const id = `${at.partition}/${at.stream}/${at.entry}`;
    const [status, newEntryId] = (await redis.script('reboundDlqReplay', [at.key, keys.stream(at.partition, at.stream)], [at.entry])) as [string, string];
    if (status === 'replayed') result.replayed.push({ id, newEntryId });
    else if (status === 'empty') result.empty.push(id);
    else result.missing.push(id);
  }
  return result;
}

export async function purgeDeadLetters(redis: RedisPort, keys: Keys, selection: DeadLetterSelection): Promise<{ purged: number }> {
  let purged = 0;
  if (selection.ids === undefined) {
    for (const at of await deadLetterStreams(redis, keys, selection.stream)) purged += Number(await redis.script('reboundDlqPurge', [at.key], []));
    return { purged };
  }
  const byKey = new Map<string, string[]>();
  for (const at of await selected(redis, keys, selection)) byKey.set(at.key, [...(byKey.get(at.key) ?? []), at.entry]);
  for (const [key, entries] of byKey) {
    for (let i = 0; i < entries.length; i += pageSize) purged += Number(await redis.script('reboundDlqPurge', [key], entries.slice(i, i + pageSize)));
  }
  return { purged };
}

// The journal (SPEC §5.1): a cursor-based pull of the trigger log for a named consumer, in
// Adobe's pipeline message shape. Each consumer is a consumer group `journal:<name>` on the
// trigger log of every partition, created at the start of the log on first use, so trimming
// (lua/trim-1.lua, which honours every group) keeps what it has not confirmed; the retention age
// (detect.logRetention) still applies. The cursor holds one offset per partition; asking for a
// page `since` a cursor confirms everything up to it (the groups move there), and a request
// without `since` resumes from the last confirmed position. A page takes the oldest entries
// after the cursor over all partitions, so pages never overlap and never skip an entry.
// `listConsumers` and `dropConsumer` manage the consumers (GET /admin/journal/consumers,
// DELETE /admin/journal/consumers/{name}).
import { ReboundError } from '../core/errors.js';
import type { RedisPort, StreamEntry } from '../core/redis/client.js';
import type { Keys } from '../core/redis/keys.js';
import { decodeFiredRecord, toAdobeMessage } from '../model/trigger-message.js';

export const journalLimits = { defaultLimit: 100, maxLimit: 1000 } as const;

const consumerName = /^[A-Za-z0-9_.-]{1,64}$/;
const entryId = /^\d{1,20}-\d{1,20}$/;

export interface JournalPage {
  consumer: string;
  messages: Array<Record<string, unknown>>;
  /** Pass back as `since` for the next page (it also confirms this page). */
  next: string;
  /** Log entries of this page that could not be decoded (left out, but passed by the cursor). */
  undecodable: number;
}

export interface JournalRequest {
  consumer: string;
  since?: string;
  limit: number;
  imsOrg: string;
}

export const journalGroup = (consumer: string): string => `journal:${consumer}`;

interface Cursor {
  v: 1;
  c: string;
  p: number;
  /** Offset per partition that is not 0-0. */
  o: Record<string, string>;
}

export function encodeCursor(consumer: string, offsets: readonly string[]): string {
  const o: Record<string, string> = {};
  offsets.forEach((offset, p) => {
    if (offset !== '0-0') o[p] = offset;
  });
  return Buffer.from(JSON.stringify({ v: 1, c: consumer, p: offsets.length, o } satisfies Cursor)).toString('base64url');
}

export function decodeCursor(text: string, consumer: string, partitions: number): string[] {
  const invalid = (why: string): ReboundError => new ReboundError('ADMIN_CURSOR_INVALID', `since: ${why}; pass back \`next\` as received, or omit since to resume`);
  let cursor: Partial<Cursor>;
  try {
    cursor = JSON.parse(Buffer.from(text, 'base64url').toString('utf8')) as Partial<Cursor>;
  } catch {
    throw invalid('not a journal cursor');
  }
  if (cursor === null || typeof cursor !== 'object' || cursor.v !== 1 || typeof cursor.o !== 'object' || cursor.o === null) throw invalid('not a journal cursor');
  if (cursor.c !== consumer) throw invalid(`made for consumer ${JSON.stringify(cursor.c)}`);
  if (cursor.p !== partitions) throw invalid(`made for ${String(cursor.p)} partitions, this installation has ${partitions}`);
  const offsets = Array.from({ length: partitions }, () => '0-0');
  for (const [p, offset] of Object.entries(cursor.o)) {
    const n = Number(p);
    if (!Number.isInteger(n) || n < 0 || n >= partitions || typeof offset !== 'string' || !entryId.test(offset)) throw invalid('not a journal cursor');
    offsets[n] = offset;
  }
  return offsets;
}

export function checkConsumerName(consumer: string | null): string {
  if (consumer === null || !consumerName.test(consumer)) {
    throw new ReboundError('ADMIN_QUERY_INVALID', 'consumer: a name of 1 to 64 letters, digits, _ . - is required (each named consumer gets every trigger message)');
  }
  return consumer;
}

/** Moves (or reads) the consumer's position in every partition; returns the offsets. */
async function position(redis: RedisPort, keys: Keys, group: string, confirmed: readonly string[] | undefined): Promise<string[]> {
  return Promise.all(keys.allPartitions().map(async (p) => String(await redis.script('reboundJournalPosition', [keys.stream(p, 'fired')], [group, confirmed?.[p] ?? '']))));
}

function compareIds(a: string, b: string): number {
  const [am = 0, as = 0] = a.split('-').map(Number);
  const [bm = 0, bs = 0] = b.split('-').map(Number);
  return am - bm || as - bs;
}

export async function pullJournal(redis: RedisPort, keys: Keys, request: JournalRequest): Promise<JournalPage> {
  const group = journalGroup(request.consumer);
  const since = request.since === undefined ? undefined : decodeCursor(request.since, request.consumer, keys.partitions);
  const offsets = await position(redis, keys, group, since);
  const reads = await Promise.all(offsets.map((offset, p) => redis.xrange(keys.stream(p, 'fired'), `(${offset}`, '+', request.limit)));
  const candidates: Array<{ partition: number; entry: StreamEntry }> = reads.flatMap((entries, partition) => entries.map((entry) => ({ partition, entry })));
  candidates.sort((a, b) => compareIds(a.entry.id, b.entry.id) || a.partition - b.partition);
  const page = candidates.slice(0, request.limit);
  const next = [...offsets];
  const messages: Array<Record<string, unknown>> = [];
  let undecodable = 0;
  for (const { partition, entry } of page) {
    next[partition] = entry.id;
    try {
      messages.push(toAdobeMessage(decodeFiredRecord(entry.data as Buffer), { partition, offset: entry.id, imsOrg: request.imsOrg }));
    } catch {
      undecodable++;
    }
  }
  return { consumer: request.consumer, messages, next: encodeCursor(request.consumer, next), undecodable };
}

export interface JournalConsumer {
  name: string;
  /** Trigger messages after its confirmed position, over all partitions (null when Redis cannot tell, after deletions). */
  unconfirmed: number | null;
}

/** The named consumers: every `journal:<name>` group on the trigger log of any partition. */
export async function listConsumers(redis: RedisPort, keys: Keys): Promise<JournalConsumer[]> {
  const byName = new Map<string, JournalConsumer>();
  const infos = await Promise.all(keys.allPartitions().map((p) => redis.xinfoGroups(keys.stream(p, 'fired'))));
  for (const group of infos.flat()) {
    if (!group.name.startsWith(journalGroup(''))) continue;
    const name = group.name.slice(journalGroup('').length);
    const consumer = byName.get(name) ?? { name, unconfirmed: 0 };
    // A page is read with XRANGE and confirmed by moving the group: its lag is what is not confirmed.
    consumer.unconfirmed = consumer.unconfirmed === null || group.lag === null ? null : consumer.unconfirmed + group.lag;
    byName.set(name, consumer);
  }
  return [...byName.values()].sort((a, b) => a.name.localeCompare(b.name));
}

/**
 * Drops a named consumer: its group leaves the trigger log of every partition, so trimming no
 * longer keeps entries for it. Resolves true when it existed somewhere. Pulling again under the
 * same name starts over from the oldest retained entry.
 */
export async function dropConsumer(redis: RedisPort, keys: Keys, consumer: string): Promise<boolean> {
  const dropped = await Promise.all(keys.allPartitions().map((p) => redis.xgroupDestroy(keys.stream(p, 'fired'), journalGroup(consumer))));
  return dropped.some(Boolean);
}

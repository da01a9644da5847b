// Message records as the reports show them (SPEC §6.7, §8): one record by id, an event's latest
// records over every partition (`keys.eventMessages`, newest first), and a profile's history
// (`keys.profileMessages`, members `<partition>|<messageId>`). The sorted sets are read a chunk at
// a time and merged by received time, so a page costs what it shows, not the size of the index;
// index entries whose record has expired are skipped. With a status filter at most
// `maxScanned` entries are looked at and the answer says when it stopped there.
import type { RedisPort } from '../core/redis/client.js';
import type { Keys } from '../core/redis/keys.js';
import { parseMessageRecord, type MessageRecord } from '../model/message.js';

export interface RecordView extends MessageRecord {
  partition: number;
  /** Set by deliver: the server's id, the SMPP receipt, when a waiting retry is due. */
  remoteId?: string;
  receipt?: string;
  nextAttemptAt?: number;
  /** Set on proofs: the template and test profile it was rendered from. */
  templateId?: string;
  testProfile?: string;
  proof?: boolean;
}

export interface RecordList {
  items: RecordView[];
  /** Index entries looked at. */
  scanned: number;
  /** False when the scan stopped at `maxScanned` before finding `limit` matching records. */
  complete: boolean;
}

export interface ListOptions {
  limit: number;
  status?: string;
}

export const maxScanned = 10_000;
const chunk = 200;

export function recordView(fields: Record<string, string>, partition: number): RecordView | undefined {
  const record = parseMessageRecord(fields);
  if (record === undefined) return undefined;
  const view: RecordView = { ...record, partition };
  if (fields.remoteId) view.remoteId = fields.remoteId;
  if (fields.receipt) view.receipt = fields.receipt;
  if (fields.nextAttemptAt) view.nextAttemptAt = Number(fields.nextAttemptAt);
  if (fields.templateId) view.templateId = fields.templateId;
  if (fields.testProfile) view.testProfile = fields.testProfile;
  if (fields.proof === '1') view.proof = true;
  return view;
}

/** A message's record in `partition`, or searched in every partition when it is not given. */
export async function getMessage(redis: RedisPort, keys: Keys, id: string, partition?: number): Promise<RecordView | undefined> {
  const partitions = partition === undefined ? keys.allPartitions() : [partition];
  const found = await Promise.all(partitions.map(async (p) => recordView(await redis.hgetall(keys.message(p, id)), p)));
  return found.find((view) => view !== undefined);
}

interface Ref {
  partition: number;
  id: string;
}

/** Members of several sorted sets merged by descending score, read a chunk at a time; a member seen once is not repeated. */
async function* newestFirst(redis: RedisPort, sets: readonly string[]): AsyncGenerator<{ set: number; member: string }> {
  const cursors = sets.map((key) => ({ key, next: 0, buffer: [] as Array<{ member: string; score: number }>, done: false, seen: new Set<string>() }));
  for (;;) {
    await Promise.all(
      cursors
        .filter((c) => c.buffer.length === 0 && !c.done)
        .map(async (c) => {
          const page = await redis.zrevrangeWithScores(c.key, c.next, c.next + chunk - 1);
          c.next += page.length;
          c.done = page.length < chunk;
          // Members added meanwhile push the ranks down: what was read already comes again, skipped here.
          c.buffer = page.filter((m) => !c.seen.has(m.member));
        }),
    );
    let best: (typeof cursors)[number] | undefined;
    let set = -1;
    cursors.forEach((c, i) => {
      const head = c.buffer[0];
      if (head !== undefined && (best === undefined || head.score > (best.buffer[0] as { score: number }).score)) [best, set] = [c, i];
    });
    if (best === undefined) {
      if (cursors.every((c) => c.done)) return;
      continue; // a page held only members seen already: read on
    }
    const head = best.buffer.shift() as { member: string };
    best.seen.add(head.member);
    yield { set, member: head.member };
  }
}

/** Reads the records of index entries in order, keeping those that exist and match, up to the limit. */
async function collect(redis: RedisPort, keys: Keys, refs: AsyncIterable<Ref>, options: ListOptions): Promise<RecordList> {
  const list: RecordList = { items: [], scanned: 0, complete: true };
  let batch: Ref[] = [];
  const flush = async (): Promise<void> => {
    const views = await Promise.all(batch.map(async (ref) => recordView(await redis.hgetall(keys.message(ref.partition, ref.id)), ref.partition)));
    for (const view of views) if (view !== undefined && (options.status === undefined || view.status === options.status) && list.items.length < options.limit) list.items.push(view);
    batch = [];
  };
  for await (const ref of refs) {
    if (list.scanned >= maxScanned) {
      list.complete = false;
      break;
    }
    list.scanned++;
    batch.push(ref);
    // Without a filter a page reads what it shows; with one, records are read in fuller batches.
    if (batch.length >= Math.min(chunk, Math.max(options.status === undefined ? 1 : 20, options.limit - list.items.length))) await flush();
    if (list.items.length >= options.limit) break;
  }
  await flush();
  return list;
}

async function* eventRefs(redis: RedisPort, keys: Keys, eventId: string): AsyncGenerator<Ref> {
  const partitions = keys.allPartitions();
  for await (const { set, member } of newestFirst(redis, partitions.map((p) => keys.eventMessages(p, eventId)))) yield { partition: partitions[set] as number, id: member };
}

async function* profileRefs(redis: RedisPort, keys: Keys, profileId: string): AsyncGenerator<Ref> {
  for await (const { member } of newestFirst(redis, [keys.profileMessages(profileId)])) {
    const at = member.indexOf('|');
    const partition = Number(member.slice(0, at));
    if (at > 0 && Number.isInteger(partition) && partition >= 0 && partition < keys.partitions) yield { partition, id: member.slice(at + 1) };
  }
}

/** An event's latest records over every partition, newest first. */
export function eventMessages(redis: RedisPort, keys: Keys, eventId: string, options: ListOptions): Promise<RecordList> {
  return collect(redis, keys, eventRefs(redis, keys, eventId), options);
}

/** What a profile was sent and why not: its records, newest first. */
export function profileMessages(redis: RedisPort, keys: Keys, profileId: string, options: ListOptions): Promise<RecordList> {
  return collect(redis, keys, profileRefs(redis, keys, profileId), options);
}

// Writes the outcomes of campaign jobs (lua/campaign-commit.lua): per input (a trigger log entry,
// or a job coming back from waiting) the record of each of its jobs, the counters, the event's
// index, the outbox entry or the waiting entry, and the dead letter of a render error — in one
// script call with the removal of the input, so a crash redoes the batch and a second process
// holding the same input writes nothing. The profiles' message indexes (keys outside the
// partition's slot) are written by the same call on a single node, and just after it, one ZADD
// per written job, on a cluster.
import { encode, encodePlain } from '../../core/codec.js';
import type { RedisPort } from '../../core/redis/client.js';
import type { Keys } from '../../core/redis/keys.js';
import { outboxStream } from '../../model/message.js';
import type { Outcome } from './pipeline.js';

/** One job's outcome to write: `eventId` is `-` when no event handles the trigger (routingFailed). */
export interface Written {
  messageId: string;
  eventId: string;
  triggerId: string;
  receivedAt: number;
  /** The trigger log entry as stored. */
  fired: Buffer;
  waits: number;
  outcome: Outcome;
}

export interface Unit {
  /** Entry id (mode stream) or the waiting member (the message id). */
  gate: string;
  jobs: Written[];
}

export interface CommitSpec {
  redis: RedisPort;
  keys: Keys;
  partition: number;
  retentionMs: number;
  group: string;
}

/** What a waiting job keeps: enough to run it again (the event by id, the original entry). */
export interface StoredJob {
  eventId: string;
  fired: Buffer;
  receivedAt: number;
  waits: number;
}

/**
 * The gate of a stream input is its stream; of a waiting job, the zset it waits in. Resolves with,
 * per job in order, whether it was written (false: a duplicate, or another process had it).
 */
export async function commitOutcomes(spec: CommitSpec, input: { mode: 'stream' } | { mode: 'waiting'; zset: string }, units: readonly Unit[]): Promise<boolean[]> {
  const { keys, partition } = spec;
  const cluster = spec.redis.mode === 'cluster';
  const inputKey = input.mode === 'stream' ? keys.stream(partition, 'fired') : input.zset;
  const scriptKeys = [inputKey, keys.campaignJobs(partition)];
  const indexOf = new Map<string, number>();
  const key = (name: string): number => {
    let index = indexOf.get(name);
    if (index === undefined) {
      scriptKeys.push(name);
      index = scriptKeys.length;
      indexOf.set(name, index);
    }
    return index;
  };
  // Binary payloads go as arguments of their own (cmsgpack reads no binary type); the rest of
  // the batch as one MessagePack argument.
  const payloads: Buffer[] = [];
  const payload = (bytes: Buffer): number => payloads.push(bytes) + 4;
  const batch = units.map((unit) => [
    unit.gate,
    unit.jobs.map((job) => {
      const { eventId, outcome } = job;
      const status = outcome.kind === 'outbox' ? 'processing' : outcome.status;
      const reason = outcome.kind === 'outbox' ? '' : (outcome.reason ?? '');
      const fields = outcome.kind === 'final' && outcome.error !== undefined ? { ...outcome.fields, error: outcome.error } : outcome.fields;
      // Positions as lua/campaign-commit.lua reads them (0 / '' = none).
      const row: unknown[] = [
        key(keys.message(partition, job.messageId)),
        key(keys.triggerStats(partition, job.triggerId)),
        input.mode === 'stream' && eventId !== '-' ? key(keys.eventMessages(partition, eventId)) : 0,
        job.messageId,
        eventId,
        status,
        reason,
        job.receivedAt,
        fields,
        0, 0, 0, 0, 0, '', 0, 0, '',
      ];
      if (outcome.kind === 'outbox') {
        row[9] = key(keys.stream(partition, outboxStream(outcome.message.channel)));
        row[10] = payload(encode(outcome.message));
      } else if (outcome.kind === 'wait') {
        const zset = outcome.status === 'paused' ? keys.campaignPaused(partition, eventId) : keys.campaignWaiting(partition);
        const stored: StoredJob = { eventId, fired: job.fired, receivedAt: job.receivedAt, waits: job.waits + (outcome.status === 'pending' ? 1 : 0) };
        row[11] = key(zset);
        row[12] = outcome.until;
        row[15] = payload(encode(stored));
      } else if (outcome.reason === 'renderFailed') {
        row[13] = key(keys.deadLetters(partition, 'fired'));
        row[14] = outcome.error ?? 'render failed';
        row[15] = payload(job.fired);
      }
      const profileId = outcome.fields.profileId;
      if (typeof profileId === 'string' && !cluster) {
        row[16] = key(keys.profileMessages(profileId));
        row[17] = `${partition}|${job.messageId}`;
      }
      return row;
    }),
  ]);
  const args: Array<string | number | Buffer> = [input.mode, spec.group, spec.retentionMs, encodePlain(batch), ...payloads];
  const flags = (await spec.redis.script('reboundCampaignCommit', scriptKeys, args)) as number[];
  const written = flags.map((flag) => Number(flag) === 1);
  if (cluster) await indexOnCluster(spec, units, written);
  return written;
}

/** On a cluster, adds each written job to its profile's message index (other slots: one ZADD each, pipelined). */
async function indexOnCluster(spec: CommitSpec, units: readonly Unit[], written: readonly boolean[]): Promise<void> {
  const { redis, keys, partition, retentionMs } = spec;
  const adds: Array<Promise<void>> = [];
  let i = 0;
  for (const unit of units) {
    for (const job of unit.jobs) {
      const profileId = job.outcome.fields.profileId;
      if (written[i++] && typeof profileId === 'string') adds.push(redis.zaddExpiring(keys.profileMessages(profileId), job.receivedAt, `${partition}|${job.messageId}`, retentionMs));
    }
  }
  await Promise.all(adds);
}

// The campaign stage (SPEC §6): reads the trigger log (`fired`, group `campaign`), routes each
// trigger message to the events of its trigger, runs every job through the pipeline and writes
// the outcomes with the entries' XACK in one script (commit.ts). A trigger message no event
// handles is recorded as routingFailed. The same runner serves jobs coming back from waiting
// (waiting.ts), so both paths produce identical records.
import { asReboundError } from '../../core/errors.js';
import type { Clock } from '../../core/clock.js';
import type { CampaignDefinitions, CampaignEvent } from '../../model/campaign-definitions.js';
import { markEventSent } from '../../model/event-store.js';
import { messagesTotal } from '../../model/message-metrics.js';
import { decodeFiredRecord, nameUuid, type FiredRecord } from '../../model/trigger-message.js';
import { acknowledged, fail, type ItemResult, type StageDefinition } from '../runtime/stage.js';
import { coalesce, coalesceByName } from './coalesce.js';
import { commitOutcomes, type CommitSpec, type Unit, type Written } from './commit.js';
import { runJob, type Outcome, type PipelineDeps } from './pipeline.js';
import { visitorSnapshots } from './visitor.js';

export interface CampaignDeps extends PipelineDeps {
  clock: Clock;
  definitions(): CampaignDefinitions;
  retentionMs: number;
}

export const campaignGroup = 'campaign';

/** Same trigger message, same event → same message id: a duplicate never yields a second message. */
export const messageIdOf = (eventId: string, record: FiredRecord): string =>
  nameUuid(`${eventId}|${record.triggerId}|${record.visitorId}|${record.firedAt}`);

export interface JobInput {
  gate: string;
  record: FiredRecord;
  fired: Buffer;
  receivedAt: number;
  waits: number;
}

/** Runs each input's jobs (one per event, or a routingFailed record when there is none). */
export async function runUnits(deps: CampaignDeps, partition: number, inputs: readonly JobInput[], eventsOf: (input: JobInput) => CampaignEvent[]): Promise<Unit[]> {
  const now = deps.clock.now();
  const routed = inputs.map((input) => ({ input, events: eventsOf(input) }));
  const handled = routed.filter((r) => r.events.length > 0);
  // The jobs start while their visitors are read (reconciliation needs them only at its end); a
  // failed read fails the batch through the await below, not as an unhandled rejection per job.
  const snapshots = visitorSnapshots(deps.redis, deps.keys, partition, handled.map((r) => r.input.record));
  const visitors = new Map(
    handled.map((r, i) => {
      const visitor = snapshots.then((all) => all[i]!);
      visitor.catch(() => undefined);
      return [r.input, visitor];
    }),
  );
  // The batch's jobs read profiles and rows and check the suppression list together: one call
  // (and one round trip for the cache misses) for all the jobs that reach a step at once.
  const jobDeps: PipelineDeps = {
    ...deps,
    identity: { profiles: coalesce((ids) => deps.identity.profiles(ids)), lookup: (field, value, hashed) => deps.identity.lookup(field, value, hashed) },
    resources: { getMany: coalesceByName((name, rowKeys) => deps.resources.getMany(name, rowKeys)) },
    suppressed: coalesce((values) => deps.suppressed(values)),
  };
  const units = Promise.all(
    routed.map(async ({ input, events }): Promise<Unit> => {
      const { record } = input;
      const base = { triggerId: record.triggerId, receivedAt: input.receivedAt, fired: input.fired, waits: input.waits };
      const visitor = visitors.get(input);
      if (visitor === undefined) {
        const fields = { id: messageIdOf('-', record), eventId: '-', triggerId: record.triggerId, triggerName: record.triggerName, visitorId: record.visitorId, firedAt: record.firedAt, receivedAt: input.receivedAt };
        const outcome: Outcome = { kind: 'final', status: 'routingFailed', reason: 'noPublishedEvent', fields };
        return { gate: input.gate, jobs: [{ ...base, messageId: fields.id, eventId: '-', outcome }] };
      }
      const jobs = await Promise.all(
        events.map(async (event): Promise<Written> => {
          const messageId = messageIdOf(event.id, record);
          const outcome = await runJob({ messageId, event, record, fired: input.fired, receivedAt: input.receivedAt, waits: input.waits, visitor }, now, jobDeps);
          return { ...base, messageId, eventId: event.id, outcome };
        }),
      );
      return { gate: input.gate, jobs };
    }),
  );
  return (await Promise.all([units, snapshots]))[0];
}

/** Per campaign role (not per process: tests and process-per-core layouts run several), the events marked as having sent. */
const sentEventsOf = new WeakMap<CampaignDeps, Set<string>>();

/** Counts what was written and marks events that produced a message (delete is refused after). */
export async function afterCommit(deps: CampaignDeps, units: readonly Unit[], written: readonly boolean[]): Promise<void> {
  let sentEvents = sentEventsOf.get(deps);
  if (sentEvents === undefined) sentEventsOf.set(deps, (sentEvents = new Set()));
  let i = 0;
  const follow: Array<Promise<unknown>> = [];
  for (const unit of units) {
    for (const job of unit.jobs) {
      if (!written[i++]) continue;
      const { outcome } = job;
      if (outcome.kind === 'outbox') {
        if (!sentEvents.has(job.eventId)) {
          sentEvents.add(job.eventId);
          follow.push(markEventSent(deps.redis, deps.keys, job.eventId));
        }
      } else if (outcome.kind === 'final') {
        messagesTotal.inc({ event: job.eventId, channel: String(outcome.fields.channel ?? ''), status: outcome.status, reason: outcome.reason ?? '' });
      }
    }
  }
  await Promise.all(follow);
}

export function campaignStage(deps: CampaignDeps): StageDefinition {
  return {
    name: campaignGroup,
    input: 'fired',
    async process(items, partition): Promise<ItemResult[]> {
      const receivedAt = deps.clock.now();
      const results: ItemResult[] = [];
      const inputs: JobInput[] = [];
      for (const item of items) {
        try {
          inputs.push({ gate: item.id, record: decodeFiredRecord(item.data), fired: item.data, receivedAt, waits: 0 });
          results.push(acknowledged());
        } catch (err) {
          results.push(fail(asReboundError(err)));
        }
      }
      const definitions = deps.definitions();
      const units = await runUnits(deps, partition, inputs, (input) => definitions.eventsFor(input.record));
      const spec: CommitSpec = { redis: deps.redis, keys: deps.keys, partition, retentionMs: deps.retentionMs, group: campaignGroup };
      const written = await commitOutcomes(spec, { mode: 'stream' }, units);
      await afterCommit(deps, units, written);
      return results;
    },
  };
}

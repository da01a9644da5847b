// Jobs that wait (SPEC §6.1, §6.2, §6.4): for an identity arriving after the trigger, for quiet
// hours to end, or for their paused event to resume. A task looks, every tick and per served
// partition, at the waiting jobs that are due, and every `queueEvery` ticks at the queue of each
// event (one read per event and partition, so not at every tick): a published event's
// queue is processed with the current template, a paused event's expired jobs become tooOld, an
// unpublished event's queue is dropped (it "neither sends nor stores"). Each job goes through the
// same pipeline as a fresh trigger message and is written by the same script, gated on removing
// it from its zset, so processes racing on one job write it once.
import { decode } from '../../core/codec.js';
import { asReboundError } from '../../core/errors.js';
import type { Logger } from '../../core/log.js';
import type { CampaignEvent } from '../../model/campaign-definitions.js';
import { decodeFiredRecord } from '../../model/trigger-message.js';
import { afterCommit, campaignGroup, runUnits, type CampaignDeps, type JobInput } from './campaign-stage.js';
import { commitOutcomes, type StoredJob } from './commit.js';

export interface WaitingOptions {
  /** The partitions whose waiting jobs this process decides now: its stage runner's share (they move with it). */
  partitions: () => readonly number[];
  tickMs: number;
  /** Paused events' queues are looked at every this many ticks. */
  queueEvery: number;
  batch: number;
  logger: Logger;
}

export class WaitingTask {
  readonly #deps: CampaignDeps;
  readonly #options: WaitingOptions;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> = Promise.resolve();
  #ticks = 0;

  constructor(deps: CampaignDeps, options: WaitingOptions) {
    this.#deps = deps;
    this.#options = options;
  }

  start(): void {
    this.#timer ??= setInterval(() => {
      this.#running = this.#running.then(() => this.tick()).catch((err: unknown) => {
        this.#options.logger.warn({ err: asReboundError(err).message }, 'campaign waiting jobs: tick failed, retrying');
      });
    }, this.#options.tickMs);
    this.#timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#running;
  }

  /** One pass over every served partition (exported for tests that drive time themselves). */
  async tick(): Promise<void> {
    const definitions = this.#deps.definitions();
    const queues = this.#ticks++ % this.#options.queueEvery === 0;
    await Promise.all(
      this.#options.partitions().map(async (partition) => {
        const { keys } = this.#deps;
        const now = this.#deps.clock.now();
        await this.#drain(partition, keys.campaignWaiting(partition), now);
        if (!queues) return;
        for (const event of definitions.events) {
          // Scores are expiry times. Published: the whole queue is due; paused: only expired jobs
          // (they end tooOld); otherwise the queue is dropped.
          const due = event.status === 'paused' ? now : Number.MAX_SAFE_INTEGER;
          await this.#drain(partition, keys.campaignPaused(partition, event.id), due, event);
        }
      }),
    );
  }

  async #drain(partition: number, zset: string, due: number, queueOf?: CampaignEvent): Promise<void> {
    const { redis, keys } = this.#deps;
    const members = await redis.zrangeDue(zset, due, this.#options.batch);
    if (members.length === 0) return;
    const stored = await redis.hmgetBuffer(keys.campaignJobs(partition), members.map((m) => m.member));
    const definitions = this.#deps.definitions();
    const inputs: JobInput[] = [];
    const events = new Map<string, CampaignEvent | undefined>();
    for (const [i, bytes] of stored.entries()) {
      const gate = members[i]!.member;
      if (bytes === null) {
        await redis.zrem(zset, gate); // written by a process that died before keeping the job
        continue;
      }
      const job = decode<StoredJob>(bytes);
      const event = queueOf ?? definitions.event(job.eventId);
      events.set(gate, event);
      inputs.push({ gate, record: decodeFiredRecord(job.fired), fired: job.fired, receivedAt: job.receivedAt, waits: job.waits });
    }
    if (inputs.length === 0) return;
    const units = await runUnits(this.#deps, partition, inputs, (input) => {
      const event = events.get(input.gate);
      return event === undefined ? [] : [unpublishedAsDropped(event)];
    });
    const spec = { redis, keys, partition, retentionMs: this.#deps.retentionMs, group: campaignGroup };
    const written = await commitOutcomes(spec, { mode: 'waiting', zset }, units);
    await afterCommit(this.#deps, units, written);
  }
}

/** A queue job of an event no longer published or paused ends as routingFailed (no template to use). */
function unpublishedAsDropped(event: CampaignEvent): CampaignEvent {
  return event.status === 'published' || event.status === 'paused' ? event : { ...event, template: undefined };
}

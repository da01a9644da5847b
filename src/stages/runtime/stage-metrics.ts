// The metrics every stage reports, created once per stage name with their label children; and
// the installation's stream gauges (lag, pending, oldest pending age, dead letters), which have
// one writer: the stream-gauge collector (stream-gauges.ts) when the
// process runs one, as every `rebound start` does.
import { counter, gauge, histogram } from '../../core/metrics.js';

const received = counter('rebound_stage_received_total', 'Stream entries read by a stage (new, own pending and claimed)', ['stage']);
const entries = counter('rebound_stage_entries_total', 'Stream entries handled by a stage, by result', ['stage', 'result']);
const seconds = histogram('rebound_stage_seconds', 'Time to process and commit one batch', ['stage'], [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]);
const inFlight = gauge('rebound_stage_in_flight', 'Batches being processed', ['stage']);
const partitionsRead = gauge('rebound_stage_partitions', 'Partitions a stage reads in this process (its share when stages.partitions is shared)', ['stage', 'stream']);
const retries = counter('rebound_stage_retries_total', 'Batch attempts that failed and were retried (Redis unavailable, stage error)', ['stage']);

/** Installation-wide, summed over partitions, by logical stream name (`hits`, `out:email`). */
export const streamGauges = {
  lag: gauge('rebound_stream_lag', 'Entries of a stream not yet delivered to a consumer group, over all partitions', ['stream', 'group']),
  pending: gauge('rebound_stream_pending', 'Entries delivered to a consumer group and not yet acknowledged, over all partitions', ['stream', 'group']),
  oldestPending: gauge('rebound_stream_oldest_pending_seconds', 'Idle time of the oldest entry delivered to a consumer group and not yet acknowledged', ['stream', 'group']),
  deadLetters: gauge('rebound_dlq_entries', 'Entries in the dead-letter streams of a stream, over all partitions', ['stream']),
};

export type EntryResult = 'ok' | 'failed' | 'dead_lettered' | 'duplicate';

/** Per stream, the consumer groups (stages) that runners of this process read it with. */
const served = new Map<string, Set<string>>();
let measuredByRunners = true;

/** Streams read by the stages of this process, with their groups (announced in Redis). */
export function servedStreams(): ReadonlyMap<string, ReadonlySet<string>> {
  return served;
}

/**
 * Hands the stream gauges to the collector: runners stop writing them. Two writers of one
 * series would disagree (a runner sees only the partitions it serves), and N processes serving
 * all partitions would each export the same total.
 */
export function collectStreamGaugesCentrally(): void {
  measuredByRunners = false;
  streamGauges.lag.reset();
  streamGauges.pending.reset();
}

/** What a runner measures of its own group when it trims: the series only without a collector (a runner in a test or a tool). */
function measuredByRunner(metric: typeof streamGauges.lag, stream: string, group: string): { set(value: number): void } {
  return {
    set: (value) => {
      if (measuredByRunners) metric.labels(stream, group).set(value);
    },
  };
}

export function stageMetrics(stage: string, input: string) {
  served.set(input, (served.get(input) ?? new Set<string>()).add(stage));
  return {
    received: received.labels(stage),
    lag: measuredByRunner(streamGauges.lag, input, stage),
    pending: measuredByRunner(streamGauges.pending, input, stage),
    entries: {
      ok: entries.labels(stage, 'ok'),
      failed: entries.labels(stage, 'failed'),
      dead_lettered: entries.labels(stage, 'dead_lettered'),
      duplicate: entries.labels(stage, 'duplicate'),
    } satisfies Record<EntryResult, unknown>,
    seconds: seconds.labels(stage),
    inFlight: inFlight.labels(stage),
    retries: retries.labels(stage),
    partitions: partitionsRead.labels(stage, input),
  };
}

export type StageMetrics = ReturnType<typeof stageMetrics>;

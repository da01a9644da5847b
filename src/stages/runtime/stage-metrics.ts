// The metrics every stage reports, created once per stage name with their label children.
import { counter, gauge, histogram } from '../../core/metrics.js';

const received = counter('rebound_stage_received_total', 'Stream entries read by a stage (new, own pending and claimed)', ['stage']);
const lag = gauge('rebound_stream_lag', 'Entries of a stream not yet delivered to a consumer group (all served partitions)', ['stream', 'group']);
const pending = gauge('rebound_stream_pending', 'Entries delivered to a consumer group and not yet acknowledged', ['stream', 'group']);
const entries = counter('rebound_stage_entries_total', 'Stream entries handled by a stage, by result', ['stage', 'result']);
const seconds = histogram('rebound_stage_seconds', 'Time to process and commit one batch', ['stage'], [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]);
const inFlight = gauge('rebound_stage_in_flight', 'Batches being processed', ['stage']);
const retries = counter('rebound_stage_retries_total', 'Batch attempts that failed and were retried (Redis unavailable, stage error)', ['stage']);

export type EntryResult = 'ok' | 'failed' | 'dead_lettered' | 'duplicate';

export function stageMetrics(stage: string, input: string) {
  return {
    received: received.labels(stage),
    lag: lag.labels(input, stage),
    pending: pending.labels(input, stage),
    entries: {
      ok: entries.labels(stage, 'ok'),
      failed: entries.labels(stage, 'failed'),
      dead_lettered: entries.labels(stage, 'dead_lettered'),
      duplicate: entries.labels(stage, 'duplicate'),
    } satisfies Record<EntryResult, unknown>,
    seconds: seconds.labels(stage),
    inFlight: inFlight.labels(stage),
    retries: retries.labels(stage),
  };
}

export type StageMetrics = ReturnType<typeof stageMetrics>;

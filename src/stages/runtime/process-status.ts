// What GET /status answers for one process: who it is (instance, roles, uptime), its rates and
// latencies over the last minute (from its own counters and histograms, SPEC §9 names), what it
// holds in flight, its failure counts, its last Redis contact, and the installation's streams
// (the collector's cached read). `rebound status` merges these over the live processes.
import { asReboundError } from '../../core/errors.js';
import type { RedisPort } from '../../core/redis/client.js';
import { bucketsOf, quantile, rateOf, sumOf, type Buckets, type SeriesSpec, type WindowReading } from '../../core/status-window.js';
import { finalStatuses, type MessageStatus } from '../../model/message.js';
import type { PipelineStats } from './stream-stats.js';

const isFinal = (labels: Readonly<Record<string, string>>): boolean => finalStatuses.has(labels.status as MessageStatus);
const withLabel = (name: string, value: string) => (labels: Readonly<Record<string, string>>) => labels[name] === value;

/** The series /status tracks over its one-minute window. */
export const statusSeries = {
  hits: { metric: 'rebound_ingest_hits_total', where: withLabel('result', 'written') },
  fires: { metric: 'rebound_triggers_fired_total' },
  messages: { metric: 'rebound_messages_total', where: isFinal },
  stageDone: { metric: 'rebound_stage_entries_total', where: withLabel('result', 'ok'), by: 'stage' },
  retriedEntries: { metric: 'rebound_stage_entries_total', where: withLabel('result', 'failed') },
  retriedBatches: { metric: 'rebound_stage_retries_total' },
  deadLettered: { metric: 'rebound_stage_entries_total', where: withLabel('result', 'dead_lettered') },
  deliveryFailed: { metric: 'rebound_messages_total', where: withLabel('status', 'deliveryFailed') },
  tooOld: { metric: 'rebound_messages_total', where: withLabel('status', 'tooOld') },
  budgetExceeded: { metric: 'rebound_budget_exceeded_total' },
  inFlight: { metric: 'rebound_stage_in_flight' },
  fireToSend: { metric: 'rebound_fire_to_send_seconds' },
  hitToFire: { metric: 'rebound_hit_to_fire_seconds' },
  timerLag: { metric: 'rebound_timer_lag_seconds' },
} satisfies Record<string, SeriesSpec>;

export interface LatencyWindow {
  count: number;
  p50: number | null;
  p99: number | null;
  /** Cumulative counts of the window, so that several processes' windows can be added. */
  buckets: Buckets;
}

export interface ProcessStatus {
  instance: string;
  host: string;
  pid: number;
  roles: string[];
  startedAt: number;
  uptimeSeconds: number;
  redis: { status: string; lastContactAt: number | null };
  /** Seconds covered by the rates and latencies (one minute once the process is that old). */
  windowSeconds: number;
  /** Per second over the window: hits written, triggers fired, messages finished; entries done per stage. */
  rates: { hits: number; fires: number; messages: number; stages: Record<string, number> };
  inFlightBatches: number;
  /** Entries and batches retried over the window. */
  retries: number;
  /** Since the process started; all should stay 0. */
  failures: { deadLettered: number; deliveryFailed: number; tooOld: number; budgetExceeded: number };
  latency: { fireToSend: LatencyWindow; hitToFire: LatencyWindow; timerLag: LatencyWindow };
  /** Whether this process exports the installation's stream gauges. */
  streamGaugeLeader: boolean;
  /** The installation's streams (the collector's cached read); absent when asked with `?streams=0`. */
  pipeline?: PipelineStats | { error: { code: string; message: string } };
}

export interface ProcessIdentity {
  instance: string;
  host: string;
  roles: readonly string[];
  startedAt: number;
}

export function latencyWindow(groups: Readonly<Record<string, number>> | undefined): LatencyWindow {
  const buckets = bucketsOf(groups);
  return { count: buckets.counts[buckets.counts.length - 1] ?? 0, p50: quantile(buckets, 0.5), p99: quantile(buckets, 0.99), buckets };
}

function failed(err: unknown): { error: { code: string; message: string } } {
  const error = asReboundError(err);
  return { error: { code: error.code, message: error.message } };
}

const total = (reading: WindowReading, key: keyof typeof statusSeries): number => sumOf(reading.totals[key]);

export async function processStatus(
  identity: ProcessIdentity,
  reading: WindowReading,
  redis: RedisPort,
  leader: boolean,
  pipeline: (() => Promise<PipelineStats>) | undefined,
): Promise<ProcessStatus> {
  const perSecond = (count: number): number => (reading.seconds < 1 ? 0 : count / reading.seconds);
  const stages = Object.fromEntries(Object.entries(reading.deltas.stageDone ?? {}).map(([stage, done]) => [stage, perSecond(done)]));
  const now = Date.now();
  return {
    instance: identity.instance,
    host: identity.host,
    pid: process.pid,
    roles: [...identity.roles],
    startedAt: identity.startedAt,
    uptimeSeconds: Math.round((now - identity.startedAt) / 1000),
    redis: { status: redis.status, lastContactAt: redis.lastReplyAt === 0 ? null : redis.lastReplyAt },
    windowSeconds: reading.seconds,
    rates: { hits: rateOf(reading, 'hits'), fires: rateOf(reading, 'fires'), messages: rateOf(reading, 'messages'), stages },
    inFlightBatches: total(reading, 'inFlight'),
    retries: sumOf(reading.deltas.retriedEntries) + sumOf(reading.deltas.retriedBatches),
    failures: { deadLettered: total(reading, 'deadLettered'), deliveryFailed: total(reading, 'deliveryFailed'), tooOld: total(reading, 'tooOld'), budgetExceeded: total(reading, 'budgetExceeded') },
    latency: { fireToSend: latencyWindow(reading.deltas.fireToSend), hitToFire: latencyWindow(reading.deltas.hitToFire), timerLag: latencyWindow(reading.deltas.timerLag) },
    streamGaugeLeader: leader,
    ...(pipeline === undefined ? {} : { pipeline: await pipeline().catch(failed) }),
  };
}

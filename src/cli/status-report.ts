// What `rebound status` shows: the streams read from Redis, merged with the /status of every live
// process found in the process registry (rates, latencies over the last minute, failures, work
// in flight), and a warning wherever a figure crosses its threshold.
import type { ReboundConfig } from '../core/config-schema.js';
import type { RedisPort } from '../core/redis/client.js';
import type { Keys } from '../core/redis/keys.js';
import { registeredProcesses, type ProcessEntry } from '../core/status-registry.js';
import { mergeBuckets, quantile } from '../core/status-window.js';
import type { LatencyWindow, ProcessStatus } from '../stages/runtime/process-status.js';
import { knownStreams, pipelineStats, type PipelineStats } from '../stages/runtime/stream-stats.js';

export interface ProcessLine {
  instance: string;
  host: string;
  pid: number;
  roles: string[];
  metricsUrl: string;
  /** live: answered; unreachable: registered and heartbeating but /status did not answer; gone: no heartbeat. */
  state: 'live' | 'unreachable' | 'gone';
  seenAgoMs: number;
  redisContactAgoMs: number | null;
  inFlightBatches: number | null;
  streamGaugeLeader: boolean;
}

export interface Latency {
  count: number;
  p50: number | null;
  p99: number | null;
}

export interface Warning {
  level: 'warn' | 'critical';
  text: string;
}

export interface StatusReport extends PipelineStats {
  processes: ProcessLine[];
  /** Seconds covered by rates and latencies (the longest window among the processes). */
  windowSeconds: number;
  rates: ProcessStatus['rates'];
  latency: { fireToSend: Latency; hitToFire: Latency; timerLag: Latency };
  failures: ProcessStatus['failures'];
  retries: number;
  budgetSeconds: number;
  warnings: Warning[];
}

/** Where a figure becomes a warning (critical ones match the alert rules of config/prometheus). */
export const thresholds = {
  lagEntries: 10_000,
  fireToSendWarnSeconds: 60,
  timerLagWarnSeconds: 1,
  timerLagCriticalSeconds: 30,
};

async function fetchStatus(entry: ProcessEntry): Promise<ProcessStatus | undefined> {
  try {
    const response = await fetch(`${entry.metricsUrl}/status?streams=0`, { signal: AbortSignal.timeout(2000) });
    return response.ok ? ((await response.json()) as ProcessStatus) : undefined;
  } catch {
    return undefined;
  }
}

function merged(windows: LatencyWindow[]): Latency {
  const buckets = mergeBuckets(windows.map((w) => w.buckets));
  return { count: buckets.counts[buckets.counts.length - 1] ?? 0, p50: quantile(buckets, 0.5), p99: quantile(buckets, 0.99) };
}

function addUp<T extends Record<string, number>>(all: readonly T[]): Record<string, number> {
  const sum: Record<string, number> = {};
  for (const item of all) for (const [key, value] of Object.entries(item)) sum[key] = (sum[key] ?? 0) + value;
  return sum;
}

function processLine(entry: ProcessEntry & { live: boolean }, status: ProcessStatus | undefined, now: number): ProcessLine {
  const contact = status?.redis.lastContactAt ?? null;
  return {
    instance: entry.instance,
    host: entry.host,
    pid: entry.pid,
    roles: entry.roles,
    metricsUrl: entry.metricsUrl,
    state: !entry.live ? 'gone' : status === undefined ? 'unreachable' : 'live',
    seenAgoMs: Math.max(0, now - entry.seenAt),
    redisContactAgoMs: contact === null ? null : Math.max(0, now - contact),
    inFlightBatches: status?.inFlightBatches ?? null,
    streamGaugeLeader: status?.streamGaugeLeader ?? false,
  };
}

export async function statusReport(redis: RedisPort, keys: Keys, config: Readonly<ReboundConfig>): Promise<StatusReport> {
  const now = Date.now();
  const [stats, entries] = await Promise.all([knownStreams(redis, keys).then((streams) => pipelineStats(redis, keys, streams, now)), registeredProcesses(redis, keys, now)]);
  const statuses = await Promise.all(entries.map((entry) => (entry.live ? fetchStatus(entry) : Promise.resolve(undefined))));
  const answered = statuses.filter((s): s is ProcessStatus => s !== undefined);
  const report: StatusReport = {
    ...stats,
    processes: entries.map((entry, i) => processLine(entry, statuses[i], now)),
    windowSeconds: Math.max(0, ...answered.map((s) => s.windowSeconds)),
    rates: {
      hits: answered.reduce((sum, s) => sum + s.rates.hits, 0),
      fires: answered.reduce((sum, s) => sum + s.rates.fires, 0),
      messages: answered.reduce((sum, s) => sum + s.rates.messages, 0),
      stages: addUp(answered.map((s) => s.rates.stages)),
    },
    latency: {
      fireToSend: merged(answered.map((s) => s.latency.fireToSend)),
      hitToFire: merged(answered.map((s) => s.latency.hitToFire)),
      timerLag: merged(answered.map((s) => s.latency.timerLag)),
    },
    failures: addUp(answered.map((s) => s.failures)) as ProcessStatus['failures'],
    retries: answered.reduce((sum, s) => sum + s.retries, 0),
    budgetSeconds: config.deliver.budget / 1000,
    warnings: [],
  };
  for (const key of ['deadLettered', 'deliveryFailed', 'tooOld', 'budgetExceeded'] as const) report.failures[key] ??= 0;
  report.warnings = warningsOf(report, config.stages.claimIdle);
  return report;
}

export function warningsOf(report: Omit<StatusReport, 'warnings'>, claimIdleMs: number): Warning[] {
  const warnings: Warning[] = [];
  const add = (level: Warning['level'], text: string): number => warnings.push({ level, text });
  for (const dead of report.deadLetters) add('critical', `dead letters: ${dead.stream} has ${dead.entries} (rebound dlq list)`);
  const { deliveryFailed, tooOld, budgetExceeded } = report.failures;
  if (deliveryFailed > 0) add('critical', `${deliveryFailed} message(s) deliveryFailed since the processes started`);
  if (tooOld > 0) add('critical', `${tooOld} message(s) tooOld (not sent within validity) since the processes started`);
  if (budgetExceeded > 0) add('critical', `${budgetExceeded} message(s) sent later than the ${report.budgetSeconds} s budget since the processes started`);
  const p99 = report.latency.fireToSend.p99;
  if (p99 !== null && p99 > report.budgetSeconds) add('critical', `fire→send p99 ${p99.toFixed(1)} s is over the ${report.budgetSeconds} s budget`);
  else if (p99 !== null && p99 > thresholds.fireToSendWarnSeconds) add('warn', `fire→send p99 ${p99.toFixed(1)} s is over ${thresholds.fireToSendWarnSeconds} s`);
  const timerLag = Math.max(report.timers.overdueMs / 1000, report.latency.timerLag.p99 ?? 0);
  if (timerLag > thresholds.timerLagCriticalSeconds) add('critical', `trigger timers fire ${timerLag.toFixed(1)} s late`);
  else if (timerLag > thresholds.timerLagWarnSeconds) add('warn', `trigger timers fire ${timerLag.toFixed(1)} s late`);
  for (const g of report.groups) {
    if (g.lag >= thresholds.lagEntries) add('warn', `${g.stream}/${g.group}: ${g.lag} entries not yet read`);
    if (g.pending > 0 && g.oldestPendingMs > claimIdleMs) add('warn', `${g.stream}/${g.group}: an entry pending for ${(g.oldestPendingMs / 1000).toFixed(0)} s (claimed by another consumer after ${claimIdleMs / 1000} s)`);
  }
  for (const p of report.processes) {
    if (p.state === 'gone') add('warn', `process ${p.instance} (${p.roles.join(',')}) not seen for ${(p.seenAgoMs / 1000).toFixed(0)} s`);
    if (p.state === 'unreachable') add('warn', `process ${p.instance} does not answer at ${p.metricsUrl}/status`);
  }
  if (!report.processes.some((p) => p.state !== 'gone')) add('warn', 'no live Rebound process registered with this Redis and prefix');
  return warnings;
}

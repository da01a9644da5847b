// `rebound status` as text: the streams table, timers, rates, latencies, failures, processes and
// warnings, with figures past their threshold in colour (yellow: look at it, red: act). Colour
// only on a terminal (or FORCE_COLOR), never when NO_COLOR is set (no-color.org).
import { thresholds, type Latency, type StatusReport } from './status-report.js';

type Level = 'ok' | 'warn' | 'critical';

export function useColor(env: NodeJS.ProcessEnv = process.env, isTTY = process.stdout.isTTY === true): boolean {
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false;
  if (env.FORCE_COLOR !== undefined && env.FORCE_COLOR !== '' && env.FORCE_COLOR !== '0') return true;
  return isTTY;
}

/** 850ms, 12.3s, 4m 05s, 15m, 2h 10m. */
export function humanDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`;
  const s = Math.floor(ms / 1000);
  const [big, small, units] = s < 3600 ? [Math.floor(s / 60), s % 60, ['m', 's']] : [Math.floor(s / 3600), Math.floor(s / 60) % 60, ['h', 'm']];
  return small === 0 ? `${big}${units[0]}` : `${big}${units[0]} ${String(small).padStart(2, '0')}${units[1]}`;
}

const perSecond = (value: number): string => (value >= 100 ? value.toFixed(0) : value.toFixed(1));
const rate = (value: number): string => `${perSecond(value)}/s`;
const seconds = (value: number | null): string => (value === null ? '-' : humanDuration(value * 1000));

class Painter {
  constructor(readonly color: boolean) {}

  paint(text: string, level: Level): string {
    if (!this.color || level === 'ok') return text;
    return `${level === 'critical' ? '\u001b[31m' : '\u001b[33m'}${text}\u001b[39m`;
  }
}

/** Columns padded on the plain text, then painted, so that colour codes never shift a column. */
function table(painter: Painter, header: string[], rows: Array<Array<[string, Level]>>): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => (row[i] as [string, Level])[0].length)));
  const line = (cells: Array<[string, Level]>): string =>
    cells
      .map(([text, level], i) => painter.paint(i === cells.length - 1 ? text : text.padEnd(widths[i] as number), level))
      .join('  ')
      .trimEnd();
  return [line(header.map((h) => [h, 'ok'])), ...rows.map(line)];
}

function streamLines(report: StatusReport, painter: Painter, claimIdleMs: number): string[] {
  const rows = report.groups.map((g): Array<[string, Level]> => [
    [g.stream, 'ok'],
    [g.group, 'ok'],
    [String(g.length), 'ok'],
    [String(g.lag), g.lag >= thresholds.lagEntries ? 'warn' : 'ok'],
    [String(g.pending), 'ok'],
    [g.pending > 0 ? humanDuration(g.oldestPendingMs) : '-', g.pending > 0 && g.oldestPendingMs > claimIdleMs ? 'warn' : 'ok'],
    [String(g.consumers), 'ok'],
    [report.rates.stages[g.group] === undefined ? '-' : perSecond(report.rates.stages[g.group] as number), 'ok'],
  ]);
  const lines = table(painter, ['stream', 'group', 'length', 'lag', 'pending', 'oldest pending', 'consumers', 'done/s'], rows);
  if (rows.length === 0) lines.push('(no streams yet)');
  const dead = report.deadLetters;
  lines.push('', dead.length === 0 ? 'dead letters: none' : painter.paint(`dead letters: ${dead.map((d) => `${d.stream} ${d.entries}`).join(', ')}`, 'critical'));
  return lines;
}

function latencyText(name: string, latency: Latency, level: Level, painter: Painter): string {
  if (latency.count === 0) return `${name}: none in the window`;
  return `${name}: p50 ${seconds(latency.p50)}, ${painter.paint(`p99 ${seconds(latency.p99)}`, level)} (${latency.count})`;
}

function pipelineLines(report: StatusReport, painter: Painter): string[] {
  const window = `last ${Math.round(report.windowSeconds)}s`;
  const { fireToSend, hitToFire, timerLag } = report.latency;
  const sendLevel: Level = (fireToSend.p99 ?? 0) > report.budgetSeconds ? 'critical' : (fireToSend.p99 ?? 0) > thresholds.fireToSendWarnSeconds ? 'warn' : 'ok';
  const timerSeconds = Math.max(report.timers.overdueMs / 1000, timerLag.p99 ?? 0);
  const timerLevel: Level = timerSeconds > thresholds.timerLagCriticalSeconds ? 'critical' : timerSeconds > thresholds.timerLagWarnSeconds ? 'warn' : 'ok';
  const f = report.failures;
  const failureText = `failures since start: dead-lettered ${f.deadLettered}, deliveryFailed ${f.deliveryFailed}, tooOld ${f.tooOld}, over budget ${f.budgetExceeded}; retries in the window ${report.retries}`;
  return [
    `rates (${window}): hits ${rate(report.rates.hits)}, fires ${rate(report.rates.fires)}, messages ${rate(report.rates.messages)}`,
    `${latencyText('fire→send', fireToSend, sendLevel, painter)}; budget ${humanDuration(report.budgetSeconds * 1000)}`,
    latencyText('hit→fire', hitToFire, 'ok', painter),
    `timers: ${report.timers.waiting} waiting, ${painter.paint(`most overdue ${humanDuration(report.timers.overdueMs)}`, timerLevel)}; ${latencyText('timer lag', timerLag, timerLevel, painter)}`,
    painter.paint(failureText, f.deadLettered + f.deliveryFailed + f.tooOld + f.budgetExceeded > 0 ? 'critical' : 'ok'),
  ];
}

function processLines(report: StatusReport, painter: Painter): string[] {
  const live = report.processes.filter((p) => p.state === 'live').length;
  const rows = report.processes.map((p): Array<[string, Level]> => [
    [p.instance, 'ok'],
    [p.roles.join(',') || '-', 'ok'],
    [p.state, p.state === 'live' ? 'ok' : 'warn'],
    [p.redisContactAgoMs === null ? '-' : `${humanDuration(p.redisContactAgoMs)} ago`, 'ok'],
    [p.inFlightBatches === null ? '-' : String(p.inFlightBatches), 'ok'],
    [p.streamGaugeLeader ? 'yes' : '', 'ok'],
    [p.metricsUrl, 'ok'],
  ]);
  return [`processes: ${live} live of ${report.processes.length} registered`, ...(rows.length === 0 ? [] : table(painter, ['instance', 'roles', 'state', 'redis reply', 'in flight', 'gauges', 'metrics'], rows))];
}

export function formatReport(report: StatusReport, options: { color: boolean; claimIdleMs: number }): string {
  const painter = new Painter(options.color);
  const lines = [...streamLines(report, painter, options.claimIdleMs), ...pipelineLines(report, painter), '', ...processLines(report, painter)];
  if (report.warnings.length > 0) lines.push('', 'warnings:', ...report.warnings.map((w) => painter.paint(`  ! ${w.text}`, w.level)));
  return lines.join('\n');
}

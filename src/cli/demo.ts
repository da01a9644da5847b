// `rebound demo`: simulated shoppers of the demo shop (demo-shoppers.ts) sent through the Segment
// API of a running `rebound start` for `--duration` (`--rate` new shoppers a second), then
// `--watch` more for the last triggers and messages. Prints, live (one line rewritten on a
// terminal, a line a second otherwise), the hits sent, the triggers fired and the messages sent
// with their fire → outbox latency (demo-monitor.ts), and a summary at the end or on Ctrl-C.
import { join } from 'node:path';
import { loadConfig } from '../core/config.js';
import type { ReboundConfig } from '../core/config-schema.js';
import { parseDuration } from '../core/duration.js';
import { ReboundError } from '../core/errors.js';
import { Keys } from '../core/redis/keys.js';
import { loadEvents } from '../model/event-store.js';
import { loadSources } from '../model/source-store.js';
import { loadTriggers } from '../model/trigger-store.js';
import { connectForCommand } from './connect.js';
import { DemoMonitor, type DemoCounts } from './demo-monitor.js';
import { SegmentSender } from './demo-sender.js';
import { loadShopData, planShopper } from './demo-shoppers.js';
import { definitionsDir } from './first-start.js';

export interface DemoCommandOptions {
  duration?: string;
  rate?: string;
  watch?: string;
  ingestUrl?: string;
  writeKey?: string;
  source?: string;
  config?: string;
}

interface DemoSettings {
  durationMs: number;
  rate: number;
  watchMs: number | undefined;
  ingestUrl: string;
  source: string;
}

export const demoLimits = { maxDurationMs: 24 * 3_600_000, maxRate: 500, maxWatchMs: 3_600_000, tickMs: 100, stepMs: 400 } as const;

function option(name: string, message: string): ReboundError {
  return new ReboundError('CONFIG_INVALID', `${name}: ${message}`, { path: name });
}

function durationOption(name: string, text: string, minMs: number, maxMs: number): number {
  const ms = parseDuration(text);
  if (ms === undefined || ms < minMs || ms > maxMs) throw option(name, `"${text}" is not a duration from ${minMs / 1000}s to ${maxMs / 3_600_000}h (30s, 5m, …)`);
  return ms;
}

/** The ingest API of the configuration (a wildcard host means this machine). */
export function ingestUrlOf(config: Readonly<ReboundConfig>, explicit?: string): string {
  if (explicit !== undefined) {
    if (!/^https?:\/\/[^\s/]+/.test(explicit)) throw option('--ingest-url', `"${explicit}" is not an http(s) URL`);
    return explicit.replace(/\/+$/, '');
  }
  const host = ['0.0.0.0', '::', ''].includes(config.ingest.host) ? '127.0.0.1' : config.ingest.host;
  return `http://${host.includes(':') ? `[${host}]` : host}:${config.ingest.port}`;
}

export function parseDemoOptions(options: DemoCommandOptions, config: Readonly<ReboundConfig>): DemoSettings {
  const rate = Number(options.rate ?? '5');
  if (!Number.isFinite(rate) || rate <= 0 || rate > demoLimits.maxRate) throw option('--rate', `new shoppers a second: a number above 0, at most ${demoLimits.maxRate}`);
  return {
    durationMs: durationOption('--duration', options.duration ?? '60s', 1000, demoLimits.maxDurationMs),
    rate,
    watchMs: options.watch === undefined ? undefined : durationOption('--watch', options.watch, 0, demoLimits.maxWatchMs),
    ingestUrl: ingestUrlOf(config, options.ingestUrl),
    source: options.source ?? 'shop-web',
  };
}

const seconds = (ms: number): string => (ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`);
const total = (counts: Record<string, number>): number => Object.values(counts).reduce((a, b) => a + b, 0);
const listing = (counts: Record<string, number>): string =>
  Object.entries(counts)
    .sort(([, a], [, b]) => b - a)
    .map(([name, n]) => `${name} ${n}`)
    .join(', ');

export function statusLine(elapsedMs: number, shoppers: number, sender: SegmentSender, counts: DemoCounts): string {
  const latency = counts.p50Ms === undefined ? '' : ` (fire → outbox p50 ${seconds(counts.p50Ms)}, p99 ${seconds(counts.p99Ms ?? counts.p50Ms)})`;
  return `[${Math.floor(elapsedMs / 1000)}s] shoppers ${shoppers} · hits sent ${sender.sent} · triggers fired ${counts.fired} · messages sent ${counts.sent}${latency} · waiting ${total(counts.waiting)} · not sent ${total(counts.notSent)}`;
}

function summary(elapsedMs: number, shoppers: number, sender: SegmentSender, counts: DemoCounts, config: Readonly<ReboundConfig>): string[] {
  const lines = [`demo ran ${seconds(elapsedMs)}: ${shoppers} shoppers, ${sender.sent} hits sent${sender.refused > 0 ? `, ${sender.refused} refused (${sender.lastError ?? ''})` : ''}`];
  lines.push(`triggers fired: ${counts.fired}${counts.fired > 0 ? ` (${listing(counts.firedByTrigger)})` : ''}`);
  const latency = counts.p50Ms === undefined ? '' : `; fire → outbox p50 ${seconds(counts.p50Ms)}, p99 ${seconds(counts.p99Ms ?? counts.p50Ms)}`;
  lines.push(`messages sent: ${counts.sent}${counts.sent > 0 ? ` (${listing(counts.sentByChannel)})` : ''}${latency}`);
  if (total(counts.waiting) > 0) lines.push(`waiting: ${total(counts.waiting)} (${listing(counts.waiting)})`);
  if (total(counts.notSent) > 0) lines.push(`not sent: ${total(counts.notSent)} (${listing(counts.notSent)})`);
  const outboxes = [config.deliver.smtp.url === null ? join(config.dataDir, 'outbox', 'email') : undefined, config.deliver.smpp.url === null && config.deliver.webhook.url === null ? join(config.dataDir, 'outbox', 'sms') : undefined].filter(Boolean);
  if (outboxes.length > 0) lines.push(`file outbox: ${outboxes.join(' and ')}`);
  return lines;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export async function demo(options: DemoCommandOptions): Promise<void> {
  const config = loadConfig(options.config === undefined ? {} : { file: options.config });
  const settings = parseDemoOptions(options, config);
  const shop = loadShopData(definitionsDir(config.demo.definitions));
  const redis = await connectForCommand(config);
  try {
    const keys = new Keys(config.prefix, config.partitions);
    const source = (await loadSources(redis, keys)).sources.find((s) => s.id === settings.source);
    const writeKey = options.writeKey ?? source?.writeKeys[0];
    if (writeKey === undefined) throw new ReboundError('DEMO_NOT_READY', `no source "${settings.source}" in this installation: start Rebound on embedded defaults (the demo shop is applied at the first start), apply config/definitions, or pass --write-key`);
    const triggers = (await loadTriggers(redis, keys)).triggers.filter((t) => t.source === settings.source && t.enabled);
    const inactivityMs = Math.max(0, ...triggers.map((t) => t.inactivityMs));
    const events = (await loadEvents(redis, keys)).events.filter((e) => e.status === 'published');
    const watchMs = settings.watchMs ?? Math.min(demoLimits.maxWatchMs, inactivityMs + 10_000);
    if (triggers.length === 0) process.stderr.write(`note: source ${settings.source} has no enabled trigger: hits are sent, nothing fires\n`);
    else if (events.length === 0) process.stderr.write('note: no published event: triggers fire, no message is sent\n');
    const sender = new SegmentSender(settings.ingestUrl, writeKey);
    const monitor = new DemoMonitor(redis, keys, settings.source, events, Date.now());
    const timing = { stepMs: demoLimits.stepMs, lateIdentifyMs: inactivityMs + 3000 };
    await run(settings, watchMs, config, sender, monitor, (at) => sender.enqueue(planShopper(shop, timing).steps, at));
  } finally {
    await redis.close();
  }
}

/** The demo's loop: arrivals while sending, due messages every tick, a status line every second. */
async function run(settings: DemoSettings, watchMs: number, config: Readonly<ReboundConfig>, sender: SegmentSender, monitor: DemoMonitor, arrive: (at: number) => boolean): Promise<void> {
  const tty = process.stdout.isTTY === true;
  const out = (text: string): void => void process.stdout.write(text);
  let stopped = false;
  const onSignal = (): void => void (stopped = true);
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const start = Date.now();
  const sendUntil = start + settings.durationMs;
  const watchUntil = sendUntil + watchMs;
  out(`rebound demo: ${settings.rate} new shoppers a second for ${seconds(settings.durationMs)} to ${settings.ingestUrl} (source ${settings.source}), then watching ${seconds(watchMs)} for the last triggers; Ctrl-C to stop\n`);
  let shoppers = 0;
  let arrivals = 0;
  let last = start;
  let nextLine = start + 1000;
  let announced = false;
  try {
    while (!stopped && Date.now() < watchUntil) {
      const now = Date.now();
      if (now < sendUntil) {
        arrivals += (settings.rate * (now - last)) / 1000;
        for (; arrivals >= 1; arrivals--) if (arrive(now)) shoppers++;
      } else if (!announced) {
        announced = true;
        out(`${tty ? '\n' : ''}no new shoppers from now on; watching ${seconds(watchMs)} more for the last triggers and messages\n`);
      }
      last = now;
      await sender.flush(now);
      if (now >= nextLine) {
        await monitor.poll();
        const line = statusLine(now - start, shoppers, sender, monitor.counts());
        out(tty ? `\r${line}\x1b[K` : `${line}\n`);
        nextLine += 1000 * Math.max(1, Math.ceil((Date.now() - nextLine) / 1000));
      }
      await sleep(demoLimits.tickMs);
    }
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  await monitor.poll();
  out(`${tty ? '\n' : ''}${summary(Date.now() - start, shoppers, sender, monitor.counts(), config).join('\n')}\n`);
}

// Helpers for the observability tests: `rebound start` / `rebound status` as child processes
// (stopped by the pid we started), a parser of the Prometheus text format, the metric names a
// PromQL expression mentions, and promtool.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { stringify } from 'yaml';

export interface ReboundProcess {
  output(): string;
  metricsUrl: string;
  statusUrl: string;
  ingestUrl: string | undefined;
  stop(): Promise<number | null>;
}

const children = new Set<ChildProcess>();
process.once('exit', () => children.forEach((child) => child.kill('SIGKILL')));

/** A configuration file for a test process (loopback ports chosen by the system). */
export function configFile(settings: Record<string, unknown>): string {
  const dir = mkdtempSync(join(tmpdir(), 'rebound-obs-'));
  const file = join(dir, 'rebound.yaml');
  const base = { log: { level: 'info' }, metrics: { host: '127.0.0.1', port: 0 }, ingest: { host: '127.0.0.1', port: 0 }, admin: { host: '127.0.0.1', port: 0 } };
  writeFileSync(file, stringify({ ...base, ...settings }));
  return file;
}

/** Runs the real CLI (src/cli/main.ts through tsx) with `args`; resolves with its exit code and output. */
export function runCli(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; output: string; stdout: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolve) =>
    child.once('exit', (code) => {
      children.delete(child);
      resolve({ code, output: stdout + stderr, stdout });
    }),
  );
}

/** `rebound start` with a configuration file; resolves once it logged "Rebound started". */
export async function startRebound(args: string[], env: Record<string, string> = {}, timeoutMs = 30_000): Promise<ReboundProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'start', ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  let text = '';
  child.stdout.on('data', (chunk: Buffer) => (text += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (text += chunk.toString()));
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => {
      children.delete(child);
      resolve(code);
    }),
  );
  const deadline = Date.now() + timeoutMs;
  while (!text.includes('Rebound started')) {
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`rebound start did not start:\n${text}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  const metricsUrl = /"url":"(http:\/\/[^"]+\/metrics)"/.exec(text)?.[1];
  const ingestPort = /"port":(\d+),"msg":"ingest listening"/.exec(text)?.[1];
  if (metricsUrl === undefined) throw new Error(`no metrics URL in the log:\n${text}`);
  return {
    output: () => text,
    metricsUrl,
    statusUrl: metricsUrl.replace(/\/metrics$/, '/status'),
    ingestUrl: ingestPort === undefined ? undefined : `http://127.0.0.1:${ingestPort}`,
    stop: async () => {
      child.kill('SIGTERM');
      return exited;
    },
  };
}

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface Scrape {
  samples: Sample[];
  /** Metric family name → type, from the `# TYPE` lines. */
  types: Map<string, string>;
  text: string;
}

const unescape = (value: string): string => value.replace(/\\(["\\n])/g, (_, c: string) => (c === 'n' ? '\n' : c));

export function parseExposition(text: string): Scrape {
  const samples: Sample[] = [];
  const types = new Map<string, string>();
  for (const line of text.split('\n')) {
    const type = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (type) types.set(type[1] as string, type[2] as string);
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match) throw new Error(`not a sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const label of (match[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[label[1] as string] = unescape(label[2] as string);
    samples.push({ name: match[1] as string, labels, value: Number(match[3]) });
  }
  return { samples, types, text };
}

export async function scrape(url: string): Promise<Scrape> {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`GET ${url}: ${response.status}`);
  return parseExposition(await response.text());
}

/** Sum of the samples of `name` whose labels include `labels`; undefined when there is none. */
export function valueOf(scraped: Scrape, name: string, labels: Record<string, string> = {}): number | undefined {
  const matching = scraped.samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  return matching.length === 0 ? undefined : matching.reduce((sum, s) => sum + s.value, 0);
}

/** Every series name a scrape can show: sample names, and the names its `# TYPE` lines promise. */
export function exportedNames(scraped: Scrape): Set<string> {
  const names = new Set(scraped.samples.map((s) => s.name));
  for (const [name, type] of scraped.types) {
    names.add(name);
    if (type === 'histogram') for (const suffix of ['_bucket', '_sum', '_count']) names.add(`${name}${suffix}`);
    if (type === 'summary') for (const suffix of ['_sum', '_count']) names.add(`${name}${suffix}`);
  }
  return names;
}

const notMetrics = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'and', 'or', 'unless', 'offset', 'bool', 'inf', 'nan']);

/**
 * The metric names a PromQL expression selects. Strings, label matchers, ranges, grouping label
 * lists, numbers, durations and Grafana variables are removed first; what is left followed by
 * `(` is a function or an aggregation, the rest (minus the keywords) are metric names.
 */
export function metricNames(expr: string): string[] {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ')
    .replace(/\$\{?\w+\}?/g, ' ')
    .replace(/(?<![\w:])\d+(\.\d+)?(e[+-]?\d+)?([smhdwy]|ms)?(?![\w:])/gi, ' ');
  const names: string[] = [];
  for (const match of stripped.matchAll(/[a-zA-Z_:][a-zA-Z0-9_:]*/g)) {
    const rest = stripped.slice((match.index ?? 0) + match[0].length).trimStart();
    if (rest.startsWith('(') || notMetrics.has(match[0].toLowerCase())) continue;
    names.push(match[0]);
  }
  return names;
}

/** Runs promtool in `cwd`; a missing promtool fails with how to install it (never skips). */
export async function promtool(cwd: string, ...args: string[]): Promise<{ code: number; output: string }> {
  try {
    const { stdout, stderr } = await promisify(execFile)('promtool', args, { cwd, timeout: 60_000 });
    return { code: 0, output: stdout + stderr };
  } catch (err) {
    const failure = err as { code?: number | string; stdout?: string; stderr?: string };
    if (failure.code === 'ENOENT') throw new Error('promtool is not installed: apt-get install -y prometheus (Debian/Ubuntu; .ci/run does it), or https://prometheus.io/download/');
    return { code: Number(failure.code ?? 1), output: `${failure.stdout ?? ''}${failure.stderr ?? ''}` };
  }
}

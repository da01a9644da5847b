// Summary of V8 CPU profiles (`.cpuprofile`, as written by `node --cpu-prof`, e.g. with
// BENCH_CPU_PROF=<dir> npm run bench -- ingest): the busy time by function (self and inclusive)
// and by file, as shares of the non-idle samples. Usage:
// tsx bench/support/cpu-profile.ts FILE… [--top N] [--from MS] (--from: skip the first MS ms, start-up and warm-up)
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileSummary {
  busyMs: number;
  idleMs: number;
  /** function label → { self, total } ms (total counts a function once per sample, recursion included). */
  functions: Map<string, { self: number; total: number }>;
  /** file (or pseudo-frame such as "(garbage collector)") → self ms. */
  files: Map<string, number>;
}

const REPO = fileURLToPath(new URL('../..', import.meta.url));

function shortUrl(url: string): string {
  if (url === '') return '';
  const path = url.startsWith('file://') ? fileURLToPath(url) : url;
  return path.startsWith(REPO) ? path.slice(REPO.length) : path.replace(/^.*\/node_modules\//, 'node_modules/');
}

function label(node: ProfileNode): string {
  const { functionName, url, lineNumber } = node.callFrame;
  const file = shortUrl(url);
  return file === '' ? functionName || '(anonymous)' : `${functionName || '(anonymous)'} ${file}:${lineNumber + 1}`;
}

export function summarize(profiles: readonly Profile[], fromMs = 0): ProfileSummary {
  const summary: ProfileSummary = { busyMs: 0, idleMs: 0, functions: new Map(), files: new Map() };
  for (const profile of profiles) {
    const byId = new Map(profile.nodes.map((n) => [n.id, n]));
    const parent = new Map<number, number>();
    for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
    let elapsed = 0;
    profile.samples.forEach((id, i) => {
      const ms = (profile.timeDeltas[i] ?? 0) / 1000;
      elapsed += ms;
      if (elapsed < fromMs) return;
      const node = byId.get(id);
      if (!node) return;
      if (node.callFrame.functionName === '(idle)') {
        summary.idleMs += ms;
        return;
      }
      summary.busyMs += ms;
      const self = label(node);
      const fileKey = shortUrl(node.callFrame.url) || node.callFrame.functionName;
      summary.files.set(fileKey, (summary.files.get(fileKey) ?? 0) + ms);
      const seen = new Set<string>();
      for (let cur: ProfileNode | undefined = node; cur; cur = byId.get(parent.get(cur.id) ?? -1)) {
        const name = label(cur);
        if (seen.has(name)) continue;
        seen.add(name);
        const entry = summary.functions.get(name) ?? { self: 0, total: 0 };
        entry.total += ms;
        if (name === self && cur === node) entry.self += ms;
        summary.functions.set(name, entry);
      }
    });
  }
  return summary;
}

function table(rows: Array<[string, number]>, busy: number, top: number): string {
  return rows
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([name, ms]) => `${((100 * ms) / busy).toFixed(1).padStart(5)} %  ${ms.toFixed(0).padStart(6)} ms  ${name}`)
    .join('\n');
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const args = process.argv.slice(2);
  const option = (name: string, fallback: number): number => {
    const at = args.indexOf(name);
    return at >= 0 ? Number(args[at + 1]) : fallback;
  };
  const top = option('--top', 25);
  const from = option('--from', 0);
  const files = args.filter((a, i) => !a.startsWith('--') && !args[i - 1]?.startsWith('--'));
  const s = summarize(files.map((f) => JSON.parse(readFileSync(f, 'utf8')) as Profile), from);
  const busy = s.busyMs || 1;
  process.stdout.write(`busy ${s.busyMs.toFixed(0)} ms, idle ${s.idleMs.toFixed(0)} ms\n\n`);
  process.stdout.write(`self time by function:\n${table([...s.functions].map(([k, v]) => [k, v.self]), busy, top)}\n\n`);
  process.stdout.write(`inclusive time by function:\n${table([...s.functions].map(([k, v]) => [k, v.total]), busy, top)}\n\n`);
  process.stdout.write(`self time by file:\n${table([...s.files], busy, top)}\n`);
}

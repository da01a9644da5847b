// Output of a run: the Markdown table of a scenario's rows, and docs/benchmarks.md, where each
// scenario owns one section between markers so that a run rewrites only the scenarios it ran.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import type { ResultRow } from './harness.js';
import { machineLine, type Machine } from './machine.js';

export interface SectionInput {
  scenario: string;
  description: string;
  rows: readonly ResultRow[];
  columns?: readonly string[];
  notes: readonly string[];
  date: Date;
  machine: Machine;
  command: string;
}

function cell(value: ResultRow[string] | undefined): string {
  if (value === null || value === undefined) return '–';
  if (typeof value === 'boolean') return value ? 'yes' : 'no';
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) return String(value);
    return Math.abs(value) >= 100 ? Math.round(value).toLocaleString('en-US') : String(Number(value.toPrecision(3)));
  }
  return value.replace(/\|/g, '\\|');
}

/** Columns are the union of the rows' keys (scenario left out): those of `order` first, then as first seen. */
export function markdownTable(rows: readonly ResultRow[], order: readonly string[] = []): string {
  const present: string[] = [];
  for (const row of rows) for (const key of Object.keys(row)) if (key !== 'scenario' && !present.includes(key)) present.push(key);
  const columns = [...order.filter((c) => present.includes(c)), ...present.filter((c) => !order.includes(c))];
  if (columns.length === 0) return '_no results_';
  const lines = [`| ${columns.join(' | ')} |`, `|${columns.map((c) => (c === 'case' ? ' --- ' : ' ---: ')).join('|')}|`];
  for (const row of rows) lines.push(`| ${columns.map((c) => cell(row[c])).join(' | ')} |`);
  return lines.join('\n');
}

const HEADER = `# Benchmarks

Written by \`npm run bench\` (\`bench/run.ts\`): one section per scenario, rewritten when that
scenario runs, other sections kept. Absolute figures depend on the machine and on whatever else
ran on it; the baselines are measured in the same run, so compare the ratios first.
Column names are the keys of the JSON lines the run prints; rates are per second of wall time.
For profiling rather than figures: \`npx tsx bench/support/cpu-profile.ts FILE.cpuprofile\` sums up
a V8 CPU profile (\`BENCH_CPU_PROF=<dir>\` makes the processes of a scenario write one), and
\`node --max-semi-space-size=32 --import tsx bench/support/detect-loop.ts [--alloc]\` runs the
detect stage alone over the detect scenario's hits, in one process without Redis: CPU and bytes
allocated per hit, by allocation site (\`--survivors\`: only the objects that lived through a
scavenge, what the garbage collector copies; \`--snapshot FILE\`: a heap snapshot with its cached
states); \`BENCH_ALLOC_PROF=<dir>\` makes the detect scenario's worker write the same allocation
figures (\`BENCH_ALLOC_SURVIVORS=1\`: survivors only).
`;

const SECTION = /<!-- bench:([\w-]+) -->\n[\s\S]*?<!-- \/bench:\1 -->\n?/g;

export function renderSection(s: SectionInput): string {
  const parts = [
    `<!-- bench:${s.scenario} -->`,
    `## ${s.scenario}`,
    '',
    `- Date: ${s.date.toISOString().replace(/\.\d+Z$/, 'Z')}`,
    `- Machine: ${machineLine(s.machine)}`,
    `- Command: \`${s.command}\``,
    '',
    s.description,
    '',
  ];
  parts.push(markdownTable(s.rows, s.columns), '');
  if (s.notes.length > 0) parts.push(...s.notes.map((n) => `- ${n}`), '');
  parts.push(`<!-- /bench:${s.scenario} -->`, '');
  return parts.join('\n');
}

/** Rewrites the sections of the scenarios that ran; keeps the others; orders known scenarios first. */
export function updateDocs(file: string, sections: readonly SectionInput[], order: readonly string[]): void {
  const existing = new Map<string, string>();
  if (existsSync(file)) {
    for (const match of readFileSync(file, 'utf8').matchAll(SECTION)) existing.set(match[1] as string, match[0].endsWith('\n') ? match[0] : `${match[0]}\n`);
  }
  for (const s of sections) existing.set(s.scenario, renderSection(s));
  const names = [...order.filter((n) => existing.has(n)), ...[...existing.keys()].filter((n) => !order.includes(n))];
  writeFileSync(file, [HEADER, ...names.map((n) => existing.get(n) as string)].join('\n'));
}

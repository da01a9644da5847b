// The benchmark harness (`npm run bench -- [scenario…]`): runs the named scenarios (all when none
// is named), each bounded in time, with a progress line on stderr; prints one JSON line per
// result row and a Markdown table per scenario on stdout; rewrites those scenarios' sections of
// docs/benchmarks.md. Every process a scenario starts is killed by its pid when the run ends.
import { fileURLToPath } from 'node:url';
import { scenarios } from './scenarios.js';
import { Progress, type ResultRow, type ScenarioContext } from './support/harness.js';
import { describeMachine, machineLine } from './support/machine.js';
import { killAllTracked } from './support/processes.js';
import { markdownTable, updateDocs, type SectionInput } from './support/report.js';

const DOCS = fileURLToPath(new URL('../docs/benchmarks.md', import.meta.url));
const known = Object.keys(scenarios);

const args = process.argv.slice(2).filter((arg) => arg !== '--');
if (args.includes('--help') || args.includes('-h')) {
  process.stdout.write(`usage: npm run bench -- [scenario…]\nscenarios: ${known.join(', ')}\n` + 'BENCH_CPU_PROF=<dir> writes V8 CPU profiles of the worker processes where a scenario supports it.\n');
  process.exit(0);
}
const unknown = args.filter((name) => !known.includes(name));
if (unknown.length > 0) {
  process.stderr.write(`unknown scenario ${unknown.join(', ')}; known: ${known.join(', ')}\n`);
  process.exit(2);
}
const names = args.length > 0 ? [...new Set(args)] : known;

// Ctrl-C or a kill: take every child down with us ('exit' handlers kill what is still tracked).
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(signal, () => {
    killAllTracked();
    process.exit(128 + (signal === 'SIGINT' ? 2 : signal === 'SIGTERM' ? 15 : 1));
  });
}

class ScenarioTimeout extends Error {}

function withTimeout<T>(work: Promise<T>, ms: number, name: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new ScenarioTimeout(`scenario ${name} did not finish within ${ms / 1000} s`)), ms);
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

const progress = new Progress();
const machine = await describeMachine();
const command = `npm run bench${args.length > 0 ? ` -- ${names.join(' ')}` : ''}`;
progress.line(`bench: ${names.join(', ')} on ${machineLine(machine)}`);

const sections: SectionInput[] = [];
let failed = false;
for (const name of names) {
  const scenario = scenarios[name];
  if (scenario === undefined) continue;
  const notes: string[] = [];
  const ctx: ScenarioContext = {
    progress: (text) => progress.update(text),
    note: (text) => {
      notes.push(text);
      progress.line(`[${name}] ${text}`);
    },
    deadline: Date.now() + scenario.timeoutMs,
  };
  const date = new Date();
  let rows: ResultRow[];
  try {
    rows = await withTimeout(scenario.run(ctx), scenario.timeoutMs, name);
  } catch (err) {
    failed = true;
    progress.line(`[${name}] FAILED (its section of docs/benchmarks.md is left as it was): ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    // A scenario that timed out may still be running: stop its processes before going on.
    if (err instanceof ScenarioTimeout) killAllTracked();
    continue;
  }
  progress.clear();
  for (const row of rows) process.stdout.write(`${JSON.stringify(row)}\n`);
  sections.push({ scenario: name, description: scenario.description, rows, notes, date, machine, command, ...(scenario.columns ? { columns: scenario.columns } : {}) });
}

progress.clear();
for (const s of sections) process.stdout.write(`\n## ${s.scenario}\n\n${markdownTable(s.rows, s.columns)}\n`);
if (sections.length > 0) {
  updateDocs(DOCS, sections, known);
  progress.line(`bench: wrote ${sections.map((s) => s.scenario).join(', ')} to docs/benchmarks.md`);
}
// Exit explicitly: a timed-out scenario may hold handles open; the exit hooks kill its children.
process.exit(failed ? 1 : 0);

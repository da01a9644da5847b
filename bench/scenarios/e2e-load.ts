// Running a measured end-to-end case: the shopper load generator as its own process (progress
// relayed, result parsed), CPU time of the processes under test, Redis memory sampled while the
// case runs, and latency summaries.
import { fileURLToPath } from 'node:url';
import type { Redis } from 'ioredis';
import { round, sleep } from '../support/harness.js';
import { percentile } from '../support/ingest-load.js';
import { cpuSeconds, spawnTracked } from '../support/processes.js';
import { infoField } from '../support/redis-info.js';
import type { ShopperResult, ShopperSpec } from './e2e-shoppers.js';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const GENERATOR = fileURLToPath(new URL('../workers/shopper-load.ts', import.meta.url));
/** Beyond its own duration, how long the generator may take (its last steps, its drain). */
const GENERATOR_SLACK_MS = 60_000;

/** Runs the shopper generator to its end, relaying its progress lines; returns its result. */
export async function runShoppers(spec: ShopperSpec, say: (text: string) => void): Promise<ShopperResult> {
  const gen = spawnTracked(process.execPath, ['--import', 'tsx', GENERATOR], { cwd: REPO, env: { ...process.env, BENCH_SHOPPERS: JSON.stringify(spec) }, stdio: ['pipe', 'pipe', 'pipe'] });
  let code: number | null | undefined;
  void gen.exited.then((c) => (code = c));
  const deadline = Date.now() + spec.durationMs + GENERATOR_SLACK_MS;
  while (code === undefined) {
    if (Date.now() > deadline) {
      await gen.stop(1000);
      throw new Error(`the shopper generator did not finish:\n${gen.output().slice(-2000)}`);
    }
    const last = gen.output().trimEnd().split('\n').filter((l) => l.startsWith('progress ')).pop();
    if (last) say(last.slice('progress '.length));
    await sleep(250);
  }
  const line = gen.output().split('\n').find((l) => l.startsWith('result '));
  if (code !== 0 || !line) throw new Error(`the shopper generator exited with ${code}:\n${gen.output().slice(-2000)}`);
  return JSON.parse(line.slice('result '.length)) as ShopperResult;
}

/** CPU seconds of named pids, read now (null where /proc is missing). */
export function cpuOf(pids: Record<string, number>): Record<string, number | null> {
  return Object.fromEntries(Object.entries(pids).map(([name, pid]) => [name, cpuSeconds(pid)]));
}

/** Cores busy per name between two readings over `seconds`, and their sum. */
export function coresBetween(before: Record<string, number | null>, after: Record<string, number | null>, seconds: number): { each: Record<string, number | null>; cpuSeconds: number } {
  const each: Record<string, number | null> = {};
  let total = 0;
  for (const name of Object.keys(after)) {
    const a = after[name];
    const b = before[name];
    if (a === null || a === undefined || b === null || b === undefined) each[name] = null;
    else {
      each[name] = round((a - b) / seconds);
      total += a - b;
    }
  }
  return { each, cpuSeconds: total };
}

/** Samples used_memory every second; `peak` is the largest seen. */
export class MemorySampler {
  peak = 0;
  last = 0;
  readonly #timer: NodeJS.Timeout;

  constructor(admin: Redis) {
    const sample = (): void => {
      admin.info('memory').then(
        (info) => {
          this.last = infoField(info, 'used_memory');
          this.peak = Math.max(this.peak, this.last);
        },
        () => undefined,
      );
    };
    sample();
    this.#timer = setInterval(sample, 1000);
  }

  stop(): void {
    clearInterval(this.#timer);
  }
}

export interface Summary {
  p50: number;
  p99: number;
  max: number;
}

export function summarise(values: number[]): Summary {
  const sorted = [...values].sort((a, b) => a - b);
  return { p50: round(percentile(sorted, 50)), p99: round(percentile(sorted, 99)), max: round(sorted.at(-1) ?? NaN) };
}

/** Waits until `count()` reaches `expected`, stops early when it has not moved for `stallMs`. */
export async function waitForCount(count: () => Promise<number>, expected: number, until: number, stallMs: number, say: (done: number) => void): Promise<number> {
  let done = await count();
  let movedAt = Date.now();
  while (done < expected && Date.now() < until && Date.now() - movedAt < stallMs) {
    await sleep(250);
    const now = await count();
    if (now !== done) movedAt = Date.now();
    done = now;
    say(done);
  }
  return done;
}

// Child processes of the benchmarks (workers, redis-benchmark): every one is tracked by the pid
// we started, stopped by that pid, and SIGKILLed when the harness exits for any reason.
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const MAX_OUTPUT = 64 * 1024;
const live = new Map<number, ChildProcess>();
let exitHookInstalled = false;

/** The Node flags `rebound` starts with (its shebang in src/cli/main.ts, `npm start`): rebound processes in benchmarks run as deployed. */
export const reboundNodeFlags = ['--max-semi-space-size=32'];

/** BENCH_CPU_PROF=<dir>: Node flags that make a process write a V8 CPU profile under <dir>/<name>/ when it exits. */
export function cpuProfileArgs(name: string): string[] {
  const root = process.env.BENCH_CPU_PROF;
  if (!root) return [];
  const dir = join(root, name.replace(/[^a-z0-9]+/gi, '-'));
  mkdirSync(dir, { recursive: true });
  return ['--cpu-prof', '--cpu-prof-dir', dir];
}

export interface Tracked {
  readonly child: ChildProcess;
  readonly pid: number;
  /** The last 64 KB of stdout and stderr together. */
  output(): string;
  /** Resolves with the exit code (null when ended by a signal). */
  readonly exited: Promise<number | null>;
  /** Resolves once `text` has appeared on stdout; rejects on exit or after timeoutMs. */
  waitFor(text: string, timeoutMs: number): Promise<void>;
  /** SIGTERM, then SIGKILL after graceMs; resolves with the exit code. */
  stop(graceMs?: number): Promise<number | null>;
}

/** SIGKILLs every tracked process still running (synchronous: safe in an 'exit' handler). */
export function killAllTracked(): void {
  for (const [pid] of live) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }
  live.clear();
}

export function spawnTracked(command: string, args: readonly string[], options: SpawnOptions = {}): Tracked {
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.on('exit', killAllTracked);
  }
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], ...options });
  if (child.pid === undefined) throw new Error(`cannot start ${command}`);
  const pid = child.pid;
  live.set(pid, child);
  let out = '';
  let stdout = '';
  const append = (chunk: Buffer): void => {
    out = (out + chunk.toString()).slice(-MAX_OUTPUT);
  };
  child.stdout?.on('data', (chunk: Buffer) => {
    append(chunk);
    stdout = (stdout + chunk.toString()).slice(-MAX_OUTPUT);
  });
  child.stderr?.on('data', append);
  const exited = new Promise<number | null>((resolve) => {
    child.once('exit', (code) => {
      live.delete(pid);
      resolve(code);
    });
  });
  let gone = false;
  void exited.then(() => (gone = true));

  return {
    child,
    pid,
    output: () => out,
    exited,
    async waitFor(text, timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      while (!stdout.includes(text)) {
        if (gone) throw new Error(`${command} (pid ${pid}) exited before printing "${text}":\n${out}`);
        if (Date.now() > deadline) throw new Error(`${command} (pid ${pid}) did not print "${text}" within ${timeoutMs} ms:\n${out}`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    },
    async stop(graceMs = 15_000) {
      if (gone) return exited;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}

/** Linux's USER_HZ, the unit of utime/stime in /proc/<pid>/stat (100 on every mainstream build). */
const USER_HZ = 100;

/**
 * CPU seconds (user + system) a process has used so far, from /proc; null where there is no
 * /proc (the figure is then left out, not guessed).
 */
export function cpuSeconds(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may contain spaces) start at field 3.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / USER_HZ;
  } catch {
    return null;
  }
}

/**
 * Seconds a process's main thread has run and has waited for a CPU while runnable
 * (/proc/<pid>/task/<pid>/schedstat): what is left of the window it was blocked, i.e. had nothing
 * to do. On a machine shared with other work, running + waiting shows whether the worker had work
 * all along even when it did not get a whole core.
 */
export function mainThreadSched(pid: number): { run: number; wait: number } | null {
  try {
    const [run, wait] = readFileSync(`/proc/${pid}/task/${pid}/schedstat`, 'utf8').split(' ').map(Number);
    return run === undefined || wait === undefined ? null : { run: run / 1e9, wait: wait / 1e9 };
  } catch {
    return null;
  }
}

// The e2e suites' processes: `rebound start --roles <role>` children (one role each, as an
// operator would deploy them), killed with SIGKILL and restarted with the same environment, and
// one-shot CLI commands (`rebound apply`, `rebound import`). Every child is tracked by the pid we
// started and stopped by that pid only: SIGTERM first, SIGKILL for what is left.
import { spawn, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';

const repoRoot = resolve(import.meta.dirname, '../..');
const mainTs = 'src/cli/main.ts';
const maxOutput = 256 * 1024;

export type RoleName = 'ingest' | 'detect' | 'campaign' | 'deliver' | 'admin';

export interface RoleProcess {
  readonly role: RoleName;
  readonly name: string;
  readonly pid: number;
  /** The process's output (stdout and stderr), its last 256 KB. */
  output(): string;
  /** Exit code, or null while it runs (or when a signal ended it). */
  readonly exited: Promise<number | null>;
  running(): boolean;
}

interface Tracked extends RoleProcess {
  child: ChildProcess;
  env: Record<string, string>;
}

const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of live) if (child.pid !== undefined) process.kill(child.pid, 'SIGKILL');
});

/** Every child still running, whichever fleet or command started it: SIGTERM, SIGKILL after `graceMs` (afterAll, even when a test timed out half-way). */
export async function stopEveryChild(graceMs = 20_000): Promise<void> {
  const children = [...live];
  const exits = children.map((child) => new Promise<void>((done) => (child.exitCode !== null || child.signalCode !== null ? done() : child.once('exit', () => done()))));
  for (const child of children) child.kill('SIGTERM');
  const timer = setTimeout(() => children.forEach((child) => child.kill('SIGKILL')), graceMs);
  await Promise.all(exits);
  clearTimeout(timer);
}

/** The environment of this test process without any REBOUND_* variable, plus `env`. */
function cleanEnv(env: Record<string, string>): Record<string, string> {
  const base: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) if (!key.startsWith('REBOUND_') && value !== undefined) base[key] = value;
  return { ...base, ...env };
}

function spawnRebound(args: string[], env: Record<string, string>): { child: ChildProcess; output: () => string; exited: Promise<number | null> } {
  const child = spawn(process.execPath, ['--import', 'tsx', mainTs, ...args], { cwd: repoRoot, env: cleanEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
  live.add(child);
  let text = '';
  const append = (chunk: Buffer): void => {
    text += chunk.toString();
    if (text.length > maxOutput * 2) text = text.slice(-maxOutput);
  };
  child.stdout?.on('data', append);
  child.stderr?.on('data', append);
  const exited = new Promise<number | null>((done) =>
    child.once('exit', (code) => {
      live.delete(child);
      done(code);
    }),
  );
  return { child, output: () => text, exited };
}

/** Runs a one-shot `rebound …` command; resolves with its exit code and output (killed after `timeoutMs`). */
export async function runRebound(args: string[], env: Record<string, string>, timeoutMs = 120_000): Promise<{ code: number | null; stdout: string; output: string }> {
  const run = spawnRebound(args, env);
  let stdout = '';
  run.child.stdout?.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  const timer = setTimeout(() => run.child.kill('SIGKILL'), timeoutMs);
  const code = await run.exited;
  clearTimeout(timer);
  return { code, stdout, output: run.output() };
}

/** The role processes of one installation, started from one base environment. */
export class Fleet {
  readonly #env: Record<string, string>;
  readonly #processes: Tracked[] = [];
  #count = 0;

  constructor(env: Record<string, string>) {
    this.#env = env;
  }

  get processes(): readonly RoleProcess[] {
    return this.#processes;
  }

  /** Starts `rebound start --roles <role>`; resolves once it logged "Rebound started". */
  async start(role: RoleName, env: Record<string, string> = {}, name = `${role}-${++this.#count}`): Promise<RoleProcess> {
    const fullEnv = { ...this.#env, ...env };
    const run = spawnRebound(['start', '--roles', role], fullEnv);
    const tracked: Tracked = {
      role,
      name,
      pid: run.child.pid ?? -1,
      output: run.output,
      exited: run.exited,
      running: () => run.child.exitCode === null && run.child.signalCode === null,
      child: run.child,
      env,
    };
    this.#processes.push(tracked);
    const deadline = Date.now() + 120_000;
    while (!run.output().includes('"msg":"Rebound started"')) {
      if (!tracked.running() || Date.now() > deadline) {
        run.child.kill('SIGKILL');
        throw new Error(`${name} (${role}) did not start:\n${run.output().slice(-4000)}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    return tracked;
  }

  /** kill -9 of a process we started, then the same role started again with the same environment. */
  async killAndRestart(target: RoleProcess): Promise<RoleProcess> {
    const tracked = this.#processes.find((p) => p === target);
    if (tracked === undefined) throw new Error(`${target.name} is not a process of this fleet`);
    tracked.child.kill('SIGKILL');
    await tracked.exited;
    return this.start(tracked.role, tracked.env, `${tracked.name}'`);
  }

  /** Processes that ended although we did not kill them (a crash), with their last output. */
  crashed(killed: ReadonlySet<RoleProcess>): Array<{ name: string; output: string }> {
    return this.#processes.filter((p) => !killed.has(p) && !p.running()).map((p) => ({ name: p.name, output: p.output().slice(-3000) }));
  }

  /** SIGTERM to every running process, SIGKILL after `graceMs`; resolves with each one's exit code. */
  async stopAll(graceMs = 20_000): Promise<Array<{ name: string; code: number | null }>> {
    const running = this.#processes.filter((p) => p.running());
    for (const p of running) p.child.kill('SIGTERM');
    const timer = setTimeout(() => running.forEach((p) => p.child.kill('SIGKILL')), graceMs);
    const codes = await Promise.all(running.map(async (p) => ({ name: p.name, code: await p.exited })));
    clearTimeout(timer);
    return codes;
  }
}

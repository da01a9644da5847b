// Rebound as users run it, for the end-to-end and scale-out scenarios: `rebound start --roles <r>`
// child processes (one per role, or several of a role), unchanged, with a YAML configuration
// written to a temp dir (Redis or Redis Cluster, loopback ports, the SMTP sink). Each is started
// with bench/workers/parent-guard.ts preloaded, so that it drains and exits if the harness dies.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { cpuProfileArgs, reboundNodeFlags, spawnTracked, type Tracked } from '../support/processes.js';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const GUARD = fileURLToPath(new URL('../workers/parent-guard.ts', import.meta.url));
const CLI = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));
const START_TIMEOUT_MS = 60_000;

export type RedisTarget = { url: string } | { cluster: string[] };

export interface ReboundSetup {
  prefix: string;
  partitions: number;
  redis: RedisTarget;
  /** SMTP sink of the deliver role. */
  smtpUrl?: string;
  /** Fixed ingest port (several ingest processes share it with SO_REUSEPORT); 0 = a free one each. */
  ingestPort?: number;
}

export interface RoleProcess {
  role: string;
  proc: Tracked;
  /** The ingest port it listens on (ingest role only). */
  port?: number;
}

/** The harness's environment without REBOUND_* variables, which would override the file. */
function ownEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('REBOUND_')));
}

/** Writes the configuration file of `setup` into a fresh temp dir; returns its path. */
export function writeConfig(setup: ReboundSetup): string {
  const dir = mkdtempSync(join(tmpdir(), 'rebound-bench-e2e-'));
  const config = {
    prefix: setup.prefix,
    partitions: setup.partitions,
    dataDir: join(dir, 'data'),
    shutdownTimeout: '10s',
    log: { level: 'info' },
    redis: 'url' in setup.redis ? { url: setup.redis.url } : { cluster: setup.redis.cluster },
    ingest: { host: '127.0.0.1', port: setup.ingestPort ?? 0 },
    metrics: { host: '127.0.0.1', port: 0 },
    demo: { firstStart: false },
    campaign: { publicUrl: 'http://127.0.0.1:8080' },
    deliver: { smtp: { url: setup.smtpUrl ?? null } },
  };
  const file = join(dir, 'rebound.yaml');
  writeFileSync(file, stringify(config));
  return file;
}

/** Starts one `rebound start --roles <role>` per entry (all at once) and waits until each has started. */
export async function startRoles(configFile: string, roles: readonly string[]): Promise<RoleProcess[]> {
  const started = roles.map((role): RoleProcess => ({
    role,
    proc: spawnTracked(process.execPath, [...cpuProfileArgs(role), ...reboundNodeFlags, '--import', 'tsx', '--import', GUARD, CLI, 'start', '--roles', role, '--config', configFile], {
      cwd: REPO,
      env: ownEnv(),
      stdio: ['pipe', 'pipe', 'pipe'],
    }),
  }));
  try {
    await Promise.all(started.map((r) => r.proc.waitFor('"msg":"Rebound started"', START_TIMEOUT_MS)));
  } catch (err) {
    await stopRoles(started);
    throw err;
  }
  for (const r of started) {
    if (r.role !== 'ingest') continue;
    const line = r.proc.output().split('\n').find((l) => l.includes('"msg":"ingest listening"')) ?? '';
    const port = (JSON.parse(line) as { port?: number }).port;
    if (typeof port !== 'number') throw new Error(`no port in the ingest's log line: ${line}`);
    r.port = port;
  }
  return started;
}

/** SIGTERM (they drain), SIGKILL after the grace; returns "role pid: code" for those that did not exit 0. */
export async function stopRoles(roles: readonly RoleProcess[]): Promise<string[]> {
  const codes = await Promise.all(roles.map((r) => r.proc.stop(15_000)));
  return roles.flatMap((r, i) => (codes[i] === 0 ? [] : [`${r.role} (pid ${r.proc.pid}) exited with ${codes[i]}: ${r.proc.output().trim().split('\n').slice(-2).join(' / ')}`]));
}

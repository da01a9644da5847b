// Test harness library: spawns and manages real redis-server processes (standalone and 3-node cluster).
import { spawn, execFile } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const execFileP = promisify(execFile);
const REDIS_SERVER = 'redis-server';
const REDIS_CLI = 'redis-cli';
const READY_TIMEOUT_MS = 10_000;
const POLL_MS = 50;
const MAX_OUTPUT = 64 * 1024;

export interface StartRedisOptions {
  /** Data dir; a fresh temp dir (removed at process exit) when omitted. */
  dir?: string;
  /** Fixed port; when omitted a free port is picked (and re-picked if taken). */
  port?: number;
  /** Start with cluster-enabled yes (cluster bus on its own free port). */
  cluster?: boolean;
  /** AOF persistence (appendfsync everysec). Default true, so restart() keeps data. */
  appendonly?: boolean;
  /** Extra redis-server CLI args, appended last. */
  extraArgs?: string[];
}

export interface RedisProcess {
  readonly port: number;
  readonly dir: string;
  /** pid of the current redis-server (changes after restart()). */
  readonly pid: number;
  readonly url: string;
  /** Signal the server and wait until it has exited (SIGKILL after 10 s). */
  stop(signal?: NodeJS.Signals): Promise<void>;
  /** SIGKILL and wait for exit (simulates a crash; AOF may lose the last ~1 s). */
  kill9(): Promise<void>;
  /** SIGTERM, then start again on the same port and dir, and wait for PING. */
  restart(): Promise<void>;
}

export interface RedisCluster {
  nodes: RedisProcess[];
  /** "127.0.0.1:p1,127.0.0.1:p2,127.0.0.1:p3" */
  seeds: string;
  stop(): Promise<void>;
}

// ---- cleanup of everything we started, even if the test process dies ----

const livePids = new Set<number>();
const ownedDirs = new Set<string>();
let cleanupInstalled = false;

function killAllSync(): void {
  for (const pid of livePids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }
  livePids.clear();
  for (const dir of ownedDirs) rmSync(dir, { recursive: true, force: true });
  ownedDirs.clear();
}

function installCleanup(): void {
  if (cleanupInstalled) return;
  cleanupInstalled = true;
  process.on('exit', killAllSync);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    const onSignal = (): void => {
      killAllSync();
      // If nobody else handles this signal, keep the default behaviour (terminate).
      if (process.listenerCount(sig) === 1) {
        process.off(sig, onSignal);
        process.kill(process.pid, sig);
      }
    };
    process.on(sig, onSignal);
  }
}

// ---- helpers ----

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A currently free TCP port on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
      srv.close(() => (port ? resolve(port) : reject(new Error('freePort: no port'))));
    });
  });
}

/**
 * One readiness probe: sends PING + INFO server on a raw socket. Ready only if PING
 * answers +PONG (not -LOADING) and the answering process is ours (guards port races).
 */
function probe(port: number, pid: number): Promise<boolean> {
  return new Promise((resolve) => {
    let buf = '';
    const sock = createConnection({ host: '127.0.0.1', port });
    const done = (ok: boolean): void => {
      sock.destroy();
      resolve(ok);
    };
    sock.setTimeout(1000, () => done(false));
    sock.once('error', () => done(false));
    sock.once('close', () => done(false));
    sock.once('connect', () => sock.write('PING\r\nINFO server\r\n'));
    sock.on('data', (chunk) => {
      buf += chunk.toString('latin1');
      const m = /process_id:(\d+)\r\n/.exec(buf);
      if (m) done(buf.startsWith('+PONG') && Number(m[1]) === pid);
      else if (buf.startsWith('-') && buf.includes('$')) done(false);
    });
  });
}

interface Spawned {
  child: ChildProcess;
  exited: Promise<void>;
  output: () => string;
}

function spawnServer(args: string[]): Spawned {
  installCleanup();
  const child = spawn(REDIS_SERVER, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const append = (c: Buffer): void => {
    out = (out + c.toString()).slice(-MAX_OUTPUT);
  };
  child.stdout?.on('data', append);
  child.stderr?.on('data', append);
  const pid = child.pid;
  if (pid !== undefined) livePids.add(pid);
  const exited = new Promise<void>((resolve) => {
    child.once('error', (e) => {
      append(Buffer.from(`spawn error: ${e.message}\n`));
      resolve();
    });
    child.once('exit', () => {
      if (pid !== undefined) livePids.delete(pid);
      resolve();
    });
  });
  return { child, exited, output: () => out };
}

/** Waits until the spawned server answers PING; throws (with its output) on exit or timeout. */
async function waitReady(s: Spawned, port: number): Promise<void> {
  let gone = false;
  void s.exited.then(() => (gone = true));
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (gone || s.child.exitCode !== null) {
      throw new Error(`redis-server on port ${port} exited early:\n${s.output()}`);
    }
    if (s.child.pid !== undefined && (await probe(port, s.child.pid))) return;
    await sleep(POLL_MS);
  }
  await killAndWait(s, 'SIGKILL');
  throw new Error(`redis-server on port ${port} not ready after ${READY_TIMEOUT_MS} ms:\n${s.output()}`);
}

async function killAndWait(s: Spawned, signal: NodeJS.Signals): Promise<void> {
  if (s.child.exitCode !== null || s.child.signalCode !== null) return;
  s.child.kill(signal); // signals only the pid we spawned
  const timer = setTimeout(() => s.child.kill('SIGKILL'), 10_000);
  await s.exited;
  clearTimeout(timer);
}

function buildArgs(port: number, dir: string, busPort: number | undefined, o: StartRedisOptions): string[] {
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', ''];
  args.push('--daemonize', 'no', '--protected-mode', 'no');
  if (o.appendonly ?? true) args.push('--appendonly', 'yes', '--appendfsync', 'everysec');
  else args.push('--appendonly', 'no');
  if (busPort !== undefined) {
    args.push('--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf');
    args.push('--cluster-node-timeout', '2000', '--cluster-port', String(busPort));
  }
  return args.concat(o.extraArgs ?? []);
}

// ---- public API ----

/** Spawns redis-server and resolves once it answers PING. */
export async function startRedis(opts: StartRedisOptions = {}): Promise<RedisProcess> {
  installCleanup();
  let dir = opts.dir;
  if (dir === undefined) {
    dir = mkdtempSync(join(tmpdir(), 'rebound-redis-'));
    ownedDirs.add(dir);
  }
  const attempts = opts.port === undefined ? 5 : 1;
  for (let i = 1; ; i++) {
    const port = opts.port ?? (await freePort());
    // Cluster bus gets its own free port (port+10000 may be out of range or taken).
    const busPort = opts.cluster ? await freePort() : undefined;
    const args = buildArgs(port, dir, busPort, opts);
    const s = spawnServer(args);
    try {
      await waitReady(s, port);
      return makeHandle(s, port, dir, args);
    } catch (err) {
      await killAndWait(s, 'SIGKILL');
      if (i >= attempts || !/in use|not ready/i.test(String(err))) throw err;
    }
  }
}

function makeHandle(first: Spawned, port: number, dir: string, args: string[]): RedisProcess {
  let cur = first;
  const stop = (signal: NodeJS.Signals = 'SIGTERM'): Promise<void> => killAndWait(cur, signal);
  return {
    port,
    dir,
    url: `redis://127.0.0.1:${port}`,
    get pid(): number {
      return cur.child.pid ?? -1;
    },
    stop,
    kill9: () => stop('SIGKILL'),
    async restart(): Promise<void> {
      await stop('SIGTERM');
      cur = spawnServer(args);
      await waitReady(cur, port);
    },
  };
}

async function cli(args: string[]): Promise<string> {
  const { stdout } = await execFileP(REDIS_CLI, args, { timeout: 30_000 });
  return stdout;
}

/** Starts three cluster-enabled nodes, creates a 3-master cluster and waits for cluster_state:ok. */
export async function startCluster(): Promise<RedisCluster> {
  const nodes = await Promise.all([0, 1, 2].map(() => startRedis({ cluster: true })));
  const stop = async (): Promise<void> => {
    await Promise.all(nodes.map((n) => n.stop()));
  };
  try {
    const addrs = nodes.map((n) => `127.0.0.1:${n.port}`);
    await cli(['--cluster', 'create', ...addrs, '--cluster-replicas', '0', '--cluster-yes']);
    const deadline = Date.now() + 20_000;
    for (;;) {
      const infos = await Promise.all(
        nodes.map((n) => cli(['-p', String(n.port), 'cluster', 'info']).catch((e: unknown) => String(e))),
      );
      if (infos.every((s) => s.includes('cluster_state:ok'))) break;
      if (Date.now() > deadline) throw new Error(`cluster not ok after 20 s:\n${infos.join('\n---\n')}`);
      await sleep(100);
    }
    return { nodes, seeds: addrs.join(','), stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

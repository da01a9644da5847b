// The embedded redis-server of SPEC §1: spawned as a child on a free loopback port with its data
// and AOF in $REBOUND_DATA_DIR/redis, stopped last on shutdown. It runs in its own process group
// so a terminal's Ctrl-C reaches Rebound (which drains into Redis) and not Redis itself; a
// server left behind by a Rebound that was killed is found by its pid file and stopped at the
// next start.
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, accessSync, constants, writeFileSync, rmSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { delimiter, join, resolve } from 'node:path';
import { sleep } from '../clock.js';
import { ReboundError } from '../errors.js';

export interface EmbeddedRedisOptions {
  dataDir: string;
  binary: string;
  appendfsync: 'always' | 'everysec' | 'no';
  maxmemory: string;
}

export interface EmbeddedRedis {
  url: string;
  port: number;
  pid: number;
  dir: string;
  stop(): Promise<void>;
}

const installHelp =
  'Install Redis ≥ 7 (Debian/Ubuntu: sudo apt-get install -y redis-server; macOS: brew install redis) ' +
  'or point Rebound at a running server with REBOUND_REDIS_URL=redis://host:6379 (or REBOUND_REDIS_CLUSTER=host:port,…).';

export function findBinary(binary: string, path = process.env.PATH ?? ''): string | undefined {
  const candidates = binary.includes('/') ? [binary] : path.split(delimiter).filter(Boolean).map((dir) => join(dir, binary));
  return candidates.find((file) => {
    try {
      accessSync(file, constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

function checkVersion(file: string): void {
  const text = execFileSync(file, ['--version'], { encoding: 'utf8' });
  const major = Number(/v=(\d+)\./.exec(text)?.[1] ?? 0);
  if (major < 7) throw new ReboundError('REDIS_BINARY_MISSING', `${file} is Redis ${major || 'of unknown version'}; Rebound needs Redis ≥ 7. ${installHelp}`);
}

export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, host, () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolvePort(port));
    });
  });
}

function answersPing(port: number): Promise<boolean> {
  return new Promise((done) => {
    const socket = connect({ port, host: '127.0.0.1' });
    const finish = (ok: boolean): void => {
      socket.destroy();
      done(ok);
    };
    socket.setTimeout(500, () => finish(false));
    socket.once('error', () => finish(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.once('data', (chunk) => finish(chunk.toString().startsWith('+PONG')));
  });
}

/** Stops a redis-server that a killed Rebound left running (its pid file is in our data dir). */
async function stopLeftover(pidFile: string): Promise<void> {
  if (!existsSync(pidFile)) return;
  const pid = Number(readFileSync(pidFile, 'utf8').trim());
  if (!pid || !isRedisProcess(pid)) return;
  process.kill(pid, 'SIGTERM');
  for (let i = 0; i < 100 && isRedisProcess(pid); i++) await sleep(100);
}

function isRedisProcess(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('redis-server');
  } catch {
    return false;
  }
}

function waitExit(child: ChildProcess, ms: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((done) => {
    const timer = setTimeout(() => done(false), ms);
    child.once('exit', () => {
      clearTimeout(timer);
      done(true);
    });
  });
}

export async function startEmbeddedRedis(options: EmbeddedRedisOptions): Promise<EmbeddedRedis> {
  const binary = findBinary(options.binary);
  if (!binary) throw new ReboundError('REDIS_BINARY_MISSING', `${options.binary} was not found on PATH. ${installHelp}`);
  checkVersion(binary);
  const dir = resolve(options.dataDir, 'redis');
  mkdirSync(dir, { recursive: true });
  const pidFile = join(dir, 'redis.pid');
  await stopLeftover(pidFile);
  const port = await freePort();
  const args = [
    '--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--daemonize', 'no',
    '--appendonly', 'yes', '--appendfsync', options.appendfsync, '--save', '',
    '--pidfile', pidFile, '--logfile', join(dir, 'redis.log'), '--maxmemory', options.maxmemory,
    // Visitor hashes hold a few values of up to ~300 bytes (recent hit ids, cart, metadata):
    // kept as listpacks they take ~40 % less memory (docs/decisions.md).
    '--hash-max-listpack-value', '512',
  ];
  const child = spawn(binary, args, { detached: true, stdio: 'ignore' });
  const killOnExit = (): void => void child.kill('SIGTERM');
  process.once('exit', killOnExit);
  for (let waited = 0; !(await answersPing(port)); waited += 50) {
    if (child.exitCode !== null || waited > 15_000) {
      child.kill('SIGKILL');
      const log = existsSync(join(dir, 'redis.log')) ? readFileSync(join(dir, 'redis.log'), 'utf8').trim().split('\n').slice(-5).join('\n') : '';
      throw new ReboundError('REDIS_EMBEDDED_FAILED', `embedded redis-server did not start on port ${port}:\n${log}`);
    }
    await sleep(50);
  }
  const url = `redis://127.0.0.1:${port}`;
  writeFileSync(join(dir, 'endpoint'), `${url}\n`);
  return {
    url,
    port,
    pid: child.pid as number,
    dir,
    async stop() {
      process.off('exit', killOnExit);
      rmSync(join(dir, 'endpoint'), { force: true });
      child.kill('SIGTERM');
      if (!(await waitExit(child, 10_000))) child.kill('SIGKILL');
    },
  };
}

/** The URL of the embedded server a running `rebound start` uses, so that other commands find it. */
export function findEmbeddedRedis(dataDir: string): string | undefined {
  const dir = resolve(dataDir, 'redis');
  try {
    const pid = Number(readFileSync(join(dir, 'redis.pid'), 'utf8').trim());
    if (!isRedisProcess(pid)) return undefined;
    return readFileSync(join(dir, 'endpoint'), 'utf8').trim() || undefined;
  } catch {
    return undefined;
  }
}

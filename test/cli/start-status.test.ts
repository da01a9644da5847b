// `rebound start` and `rebound status` as a user runs them: the real CLI in a child process.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { encode } from '../../src/core/codec.js';
import { connectRedis } from '../../src/core/redis/client.js';
import { Keys } from '../../src/core/redis/keys.js';
import { newPrefix } from '../stages/pipeline-helpers.js';

const dirs: string[] = [];
afterAll(() => dirs.forEach((dir) => rmSync(dir, { recursive: true, force: true })));

interface Run {
  code: Promise<number | null>;
  output: () => string;
  signal: (name: NodeJS.Signals) => void;
}

function rebound(args: string[], env: Record<string, string>): Run {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], {
    env: { ...process.env, REBOUND_METRICS_PORT: '0', REBOUND_INGEST_PORT: '0', REBOUND_ADMIN_PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let text = '';
  child.stdout.on('data', (chunk: Buffer) => (text += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (text += chunk.toString()));
  return { code: new Promise((resolve) => child.once('exit', resolve)), output: () => text, signal: (name) => child.kill(name) };
}

async function until(run: Run, text: string): Promise<void> {
  for (let i = 0; i < 300 && !run.output().includes(text); i++) await new Promise((r) => setTimeout(r, 50));
  expect(run.output()).toContain(text);
}

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('rebound start', () => {
  it('runs on an embedded redis-server and exits 0 on SIGTERM, leaving no process behind', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'rebound-start-'));
    dirs.push(dataDir);
    const run = rebound(['start'], { REBOUND_DATA_DIR: dataDir });
    await until(run, 'Rebound started');
    const redisPid = Number(/"redisPid":(\d+)/.exec(run.output())?.[1]);
    expect(alive(redisPid)).toBe(true);
    const status = rebound(['status'], { REBOUND_DATA_DIR: dataDir });
    expect(await status.code).toBe(0);
    expect(status.output()).toContain('dead letters: none');
    run.signal('SIGTERM');
    expect(await run.code).toBe(0);
    expect(alive(redisPid)).toBe(false);
  });

  it('exits 2 with a clear message when REBOUND_REDIS_URL points nowhere', async () => {
    const run = rebound(['start'], { REBOUND_REDIS_URL: 'redis://127.0.0.1:1', REBOUND_DATA_DIR: tmpdir() });
    expect(await run.code).toBe(2);
    expect(run.output()).toContain('REDIS_UNAVAILABLE: cannot reach Redis');
  });

  it('exits 2 with install instructions when no redis-server is on the PATH', async () => {
    const run = rebound(['start'], { PATH: '/nonexistent', REBOUND_DATA_DIR: tmpdir() });
    expect(await run.code).toBe(2);
    expect(run.output()).toMatch(/REDIS_BINARY_MISSING: redis-server was not found on PATH\. Install Redis ≥ 7 \(Debian\/Ubuntu: sudo apt-get install -y redis-server; macOS: brew install redis\)/);
  });

  it('exits 2 naming the valid roles when a role is unknown', async () => {
    const run = rebound(['start', '--roles', 'detect,bogus'], {});
    expect(await run.code).toBe(2);
    expect(run.output()).toContain('unknown role "bogus"; valid roles: ingest, detect, campaign, deliver, admin');
  });

  it('exits 2 naming the key when the configuration is invalid', async () => {
    const run = rebound(['start'], { REBOUND_INGEST_PORT: 'eighty' });
    expect(await run.code).toBe(2);
    expect(run.output()).toMatch(/CONFIG_INVALID[\s\S]*ingest\.port/);
  });

  it('has --help on every command', async () => {
    for (const args of [['--help'], ['start', '--help'], ['status', '--help']]) {
      const run = rebound(args, {});
      expect(await run.code).toBe(0);
      expect(run.output()).toContain('Usage: rebound');
    }
  });
});

describe('rebound status', () => {
  it('shows per stream and group the length, lag, pending and oldest pending age, and dead letters', async () => {
    const url = inject('redisUrl');
    const prefix = newPrefix();
    const keys = new Keys(prefix, 16);
    const redis = await connectRedis({ url }, { connectTimeoutMs: 5000, name: 'test' });
    try {
      for (const p of [0, 5]) {
        await redis.xgroupCreate(keys.stream(p, 'hits'), 'detect', '0');
        for (let i = 0; i < 3; i++) await redis.xadd(keys.stream(p, 'hits'), encode({ i }));
      }
      await redis.xreadgroup(keys.stream(0, 'hits'), 'detect', 'worker-a', '>', 2);
      await redis.xadd(keys.deadLetters(5, 'hits'), encode({ poison: true }));
      const run = rebound(['status', '--json'], { REBOUND_REDIS_URL: url, REBOUND_PREFIX: prefix });
      expect(await run.code).toBe(0);
      const stats = JSON.parse(run.output()) as { groups: Array<Record<string, unknown>>; deadLetters: unknown[] };
      expect(stats.groups).toEqual([{ stream: 'hits', group: 'detect', length: 6, lag: 4, pending: 2, oldestPendingMs: expect.any(Number), consumers: 1 }]);
      expect(stats.deadLetters).toEqual([{ stream: 'hits', entries: 1 }]);
      const table = rebound(['status'], { REBOUND_REDIS_URL: url, REBOUND_PREFIX: prefix });
      expect(await table.code).toBe(0);
      expect(table.output()).toMatch(/hits\s+detect\s+6\s+4\s+2\s+\S+\s+1/);
      expect(table.output()).toContain('dead letters: hits 1');
    } finally {
      await redis.close();
    }
  });
});

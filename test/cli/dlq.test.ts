// `rebound dlq list|replay|purge` as an operator runs them: the real CLI in a child process,
// straight against Redis (REBOUND_REDIS_URL, REBOUND_PREFIX), on real dead letters.
import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { connectRedis, type RedisPort } from '../../src/core/redis/client.js';
import { Keys } from '../../src/core/redis/keys.js';
import { makeDeadLetters } from '../admin/admin-helpers.js';
import { newPrefix } from '../stages/pipeline-helpers.js';

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

const prefix = newPrefix();
const keys = new Keys(prefix, 16); // the CLI runs on the default configuration: 16 partitions
let redis: RedisPort;

function rebound(args: string[]): Promise<Result> {
  const env = { ...process.env, REBOUND_REDIS_URL: inject('redisUrl'), REBOUND_PREFIX: prefix };
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'dlq', ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolve) => child.once('exit', (code) => resolve({ code, stdout, stderr })));
}

beforeAll(async () => {
  redis = await connectRedis({ url: inject('redisUrl') }, { connectTimeoutMs: 5000, name: 'test' });
});
afterAll(() => redis.close());

// Child processes compiling TypeScript on a shared 2-core machine: generous, not a speed check.
describe('rebound dlq', { timeout: 180_000 }, () => {
  let listedIds: string[] = [];
  let poisonData: Buffer | undefined;

  it('lists dead letters as JSON and as a table', async () => {
    const [poison] = await makeDeadLetters(redis, keys, 'hits', [3, 7]);
    poisonData = poison!.data;
    const listed = await rebound(['list', '--json']);
    expect(listed.code).toBe(0);
    const { deadLetters, total } = JSON.parse(listed.stdout) as { deadLetters: Array<{ id: string; partition: number; error: string }>; total: number };
    expect(total).toBe(2);
    expect(deadLetters.map((d) => d.partition)).toEqual([3, 7]);
    listedIds = deadLetters.map((d) => d.id);
    const table = await rebound(['list']);
    expect(table.stdout).toContain('HIT_INVALID: poison in partition 7');
    expect(table.stdout).toContain('2 of 2 dead letters shown');
  });

  it('replays one onto its stream, once', async () => {
    const replayed = await rebound(['replay', listedIds[0]!]);
    expect(replayed).toMatchObject({ code: 0, stdout: 'replayed 1\n' });
    const entries = await redis.xrange(keys.stream(3, 'hits'));
    expect(entries.at(-1)?.data).toEqual(poisonData);
    expect((await rebound(['replay', listedIds[0]!])).stdout).toBe('replayed 0; 1 not found\n');
  });

  it('refuses a purge naming nothing, and purges all with --all', async () => {
    const refused = await rebound(['purge']);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('--all');
    expect(await rebound(['purge', '--all'])).toMatchObject({ code: 0, stdout: 'purged 1\n' });
    expect((await redis.xlen(keys.deadLetters(7, 'hits')))).toBe(0);
  });

  it('replays every dead letter of a stream when no id is given', async () => {
    await makeDeadLetters(redis, keys, 'fired', [1, 2], 'campaign');
    await makeDeadLetters(redis, keys, 'hits', [4]);
    expect((await rebound(['replay', '--stream', 'fired'])).stdout).toBe('replayed 2\n');
    const left = JSON.parse((await rebound(['list', '--json'])).stdout) as { deadLetters: Array<{ stream: string }> };
    expect(left.deadLetters.map((d) => d.stream)).toEqual(['hits']);
  });
});

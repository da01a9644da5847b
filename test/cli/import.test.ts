// `rebound import` as a user runs it: the real CLI in a child process against a real Redis, on
// NDJSON files mixing good, bad and hostile lines: the final counts, the .rejects file, what
// landed in Redis, and the exit codes.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { connectRedis, type RedisPort } from '../../src/core/redis/client.js';
import { Keys } from '../../src/core/redis/keys.js';
import { ProfileStore } from '../../src/model/profile-store.js';
import { sha256Hex } from '../../src/model/profile-values.js';
import { getRows, putResource } from '../../src/model/resource-store.js';
import { newPrefix } from '../stages/pipeline-helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'rebound-import-'));
const connections: RedisPort[] = [];
afterAll(async () => {
  rmSync(dir, { recursive: true, force: true });
  await Promise.all(connections.map((r) => r.close()));
});

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

function rebound(args: string[], env: Record<string, string>): Promise<Result> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolve) => child.once('exit', (code) => resolve({ code, stdout, stderr })));
}

async function setUp() {
  const url = inject('redisUrl');
  const prefix = newPrefix();
  const redis = await connectRedis({ url }, { connectTimeoutMs: 5000, name: 'test-import' });
  connections.push(redis);
  return { redis, keys: new Keys(prefix, 16), env: { REBOUND_REDIS_URL: url, REBOUND_PREFIX: prefix } };
}

function file(name: string, lines: string[]): string {
  const path = join(dir, name);
  writeFileSync(path, lines.join('\n'));
  return path;
}

const rejectsOf = (path: string) => readFileSync(`${path}.rejects`, 'utf8').trim().split('\n').map((line) => JSON.parse(line) as { line: number; error: { code: string; message: string; path?: string }; input: string; truncated?: boolean });

describe('rebound import profiles', () => {
  it('imports the good lines, reports and writes out the bad ones, and exits 0', async () => {
    const { redis, keys, env } = await setUp();
    const huge = JSON.stringify({ id: 'huge', notes: 'x'.repeat(2 * 1024 * 1024) });
    const path = file('profiles.ndjson', [
      JSON.stringify({ id: 'p1', email: 'Ann@Example.com', firstName: 'Ann', loyalty: { tier: 'gold' } }),
      '{"id": "p2", "email": "not-an-address"}',
      '{"id": "p3", "phone": "+33 6 12 34 56 78", "locale": "fr_FR", "timezone": "Europe/Paris"}\r',
      '',
      '{"id": "p4", "__proto__": {"isAdmin": true}}',
      '{"id": "p5", "email": ',
      huge,
      '["an", "array"]',
      JSON.stringify({ id: 'p1', email: 'ann.new@example.com', firstName: 'Ann' }),
      '{"email": "nobody@example.com"}',
      `{"id": "deep", "x": ${'{"a": '.repeat(100_000)}1${'}'.repeat(100_000)}}`,
    ]);
    const result = await rebound(['import', 'profiles', path], env);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toBe(`imported profiles from ${path}: 3 accepted, 7 rejected (see ${path}.rejects)\n`);

    const rejects = rejectsOf(path);
    expect(rejects.map((r) => [r.line, r.error.code, r.error.path])).toEqual([
      [2, 'PROFILE_INVALID', 'email'],
      [5, 'PROFILE_INVALID', '__proto__'],
      [6, 'IMPORT_LINE_MALFORMED', undefined],
      [7, 'IMPORT_LINE_TOO_LONG', undefined],
      [8, 'IMPORT_LINE_MALFORMED', undefined],
      [10, 'PROFILE_INVALID', 'id'],
      [11, 'PROFILE_INVALID', `x${'.a'.repeat(15)}`],
    ]);
    expect(rejects[0]!.input).toBe('{"id": "p2", "email": "not-an-address"}');
    expect(rejects[0]!.error.message).toContain('email: not an email address');
    expect(rejects[3]!.truncated).toBe(true);
    expect(rejects[3]!.input).toBe(huge.slice(0, 1024));
    expect(rejects[3]!.error.message).toBe(`line is ${huge.length} bytes; at most 1048576`);

    const store = new ProfileStore(redis, keys, ['email', 'phone']);
    expect(await store.get('p1')).toEqual({ id: 'p1', email: 'ann.new@example.com', firstName: 'Ann' });
    expect(await store.get('p3')).toEqual({ id: 'p3', phone: '+33612345678', locale: 'fr-FR', timezone: 'Europe/Paris' });
    for (const id of ['p2', 'p4', 'p5', 'huge']) expect(await store.get(id)).toBeUndefined();
    expect(await store.lookupProfiles('email', 'ann.new@example.com')).toEqual(['p1']);
    expect(await store.lookupProfiles('email', 'ann@example.com')).toEqual([]);
    expect(await store.lookupProfiles('phone', sha256Hex('+33612345678'), { hashed: true })).toEqual(['p3']);
  });

  it('imports a file of several chunks in full, and removes the rejects file of an earlier run when all lines are good', async () => {
    const { redis, keys, env } = await setUp();
    const ids = Array.from({ length: 2_500 }, (_, i) => `bulk-${i}`);
    const path = file('bulk.ndjson', ids.map((id, i) => JSON.stringify({ id, email: `${id}@example.com`, n: i })));
    writeFileSync(`${path}.rejects`, 'stale\n');
    const result = await rebound(['import', 'profiles', path], env);
    expect(result.code).toBe(0);
    expect(result.stdout).toBe(`imported profiles from ${path}: 2500 accepted, 0 rejected\n`);
    expect(existsSync(`${path}.rejects`)).toBe(false);
    const stored = await new ProfileStore(redis, keys, ['email']).getMany(ids);
    expect(stored.size).toBe(2_500);
    expect(stored.get('bulk-2499')).toEqual({ id: 'bulk-2499', email: 'bulk-2499@example.com', n: 2499 });
  });

  it('exits 2 naming the file when it does not exist', async () => {
    const { env } = await setUp();
    const result = await rebound(['import', 'profiles', join(dir, 'nope.ndjson')], env);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('IMPORT_FILE_UNREADABLE: cannot read');
    expect(result.stderr).toContain('nope.ndjson');
  });
});

describe('rebound import catalog and resource', () => {
  it('imports catalog rows keyed by sku', async () => {
    const { redis, keys, env } = await setUp();
    const path = file('catalog.ndjson', ['{"sku": "SKU-1", "name": "Shoe", "price": 59.9}', '{"name": "no sku"}', '{"sku": 42, "name": "numbered"}']);
    const result = await rebound(['import', 'catalog', path], env);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('1 rejected');
    expect(rejectsOf(path).map((r) => [r.line, r.error.code, r.error.path])).toEqual([[2, 'RESOURCE_ROW_INVALID', 'sku']]);
    expect(await getRows(redis, keys, 'catalog', ['SKU-1', '42', 'x'])).toEqual(
      new Map<string, unknown>([
        ['SKU-1', { sku: 'SKU-1', name: 'Shoe', price: 59.9 }],
        ['42', { sku: 42, name: 'numbered' }],
      ]),
    );
  });

  it('refuses a resource without a definition (exit 2), then imports it keyed by its key field', async () => {
    const { redis, keys, env } = await setUp();
    const path = file('stores.ndjson', ['{"storeId": "paris-1", "city": "Paris"}', '{"city": "no key"}']);
    const refused = await rebound(['import', 'resource', 'stores', path], env);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('RESOURCE_UNKNOWN: resource "stores" has no kind: Resource definition');
    expect(existsSync(`${path}.rejects`)).toBe(false);

    await putResource(redis, keys, { kind: 'Resource', id: 'stores', key: 'storeId' });
    const result = await rebound(['import', 'resource', 'stores', path], env);
    expect(result.code).toBe(0);
    expect(result.stdout).toBe(`imported resource stores from ${path}: 1 accepted, 1 rejected (see ${path}.rejects)\n`);
    expect(await getRows(redis, keys, 'stores', ['paris-1'])).toEqual(new Map([['paris-1', { storeId: 'paris-1', city: 'Paris' }]]));
    expect(rejectsOf(path)[0]).toMatchObject({ line: 2, error: { code: 'RESOURCE_ROW_INVALID', path: 'storeId' } });
  });

  it('has --help on every import command', async () => {
    for (const args of [['import', '--help'], ['import', 'profiles', '--help'], ['import', 'catalog', '--help'], ['import', 'resource', '--help']]) {
      const result = await rebound(args, {});
      expect(result.code).toBe(0);
      expect(result.stdout).toContain('Usage: rebound import');
    }
  });
});

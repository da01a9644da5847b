// First start (SPEC §1): the demo shop of config/definitions/ applied once to an installation
// without definitions, never again after. In process against the test Redis (a prefix each):
// what lands in Redis, the marker, an installation that already had definitions, a broken
// folder (every problem reported, nothing applied, retried at the next start), a start
// interrupted half-way. Then as a user runs it: `rebound start` twice on one embedded data
// directory, with a change made between the two.
import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { applyDefinitionsOnce, firstStart, firstStartField, type FirstStartDeps } from '../../src/cli/first-start.js';
import { parseConfig } from '../../src/core/config.js';
import { ReboundError } from '../../src/core/errors.js';
import { createLogger } from '../../src/core/log.js';
import { connectRedis, type RedisPort } from '../../src/core/redis/client.js';
import { findEmbeddedRedis } from '../../src/core/redis/embedded.js';
import { Keys } from '../../src/core/redis/keys.js';
import { loadEvents } from '../../src/model/event-store.js';
import { ProfileStore } from '../../src/model/profile-store.js';
import { getRows } from '../../src/model/resource-store.js';
import { loadSources, putSource } from '../../src/model/source-store.js';
import { loadTemplates } from '../../src/model/template-store.js';
import { loadTriggers } from '../../src/model/trigger-store.js';
import { newPrefix } from '../stages/pipeline-helpers.js';

const demoDir = resolve(import.meta.dirname, '../../config/definitions');
const temps: string[] = [];
const connections: RedisPort[] = [];
afterAll(async () => {
  await Promise.all(connections.map((r) => r.close()));
  temps.forEach((t) => rmSync(t, { recursive: true, force: true }));
});

function tempDir(label: string): string {
  const dir = mkdtempSync(join(tmpdir(), `rebound-first-start-${label}-`));
  temps.push(dir);
  return dir;
}

/** A copy of the demo folder to spoil. */
function demoCopy(): string {
  const dir = tempDir('defs');
  cpSync(demoDir, dir, { recursive: true });
  return dir;
}

async function setUp(url = inject('redisUrl')): Promise<FirstStartDeps> {
  const redis = await connectRedis({ url }, { connectTimeoutMs: 5000, name: 'test-first-start' });
  connections.push(redis);
  const config = parseConfig({ prefix: newPrefix(), dataDir: tempDir('data'), redis: { url } });
  return { config, redis, keys: new Keys(config.prefix, config.partitions), logger: createLogger('silent') };
}

const marker = ({ redis, keys }: FirstStartDeps): Promise<string | null> => redis.hget(keys.meta(), firstStartField);

describe('first start, in process', () => {
  it('applies the demo shop and its data once, and the marker says so', async () => {
    const deps = await setUp();
    const { redis, keys, config } = deps;
    const result = await applyDefinitionsOnce(deps, demoDir);
    expect(result.applied).toBe(true);
    if (!result.applied) return;
    expect(result.definitions.created).toHaveLength(18);
    expect(result.imports.map((f) => [f.target, f.accepted, f.rejected])).toEqual([
      ['catalog', 500, 0],
      ['profiles', 200, 0],
    ]);
    expect(await marker(deps)).toMatch(/^applied \d{4}-/);
    expect((await loadSources(redis, keys)).sources.map((s) => s.writeKeys)).toEqual([['demo-shop-web-key']]);
    expect((await loadTriggers(redis, keys)).triggers.map((t) => t.id).sort()).toEqual(['browse-abandonment', 'cart-abandonment', 'search-abandonment']);
    const events = (await loadEvents(redis, keys)).events;
    expect(events.map((e) => [e.id, e.status])).toHaveLength(6);
    expect(events.every((e) => e.status === 'published')).toBe(true);
    expect((await loadTemplates(redis, keys)).templates.every((t) => t.status === 'published')).toBe(true);
    const profiles = new ProfileStore(redis, keys, config.campaign.indexedFields);
    expect((await profiles.get('u-0002'))?.firstName).toBe('Lucas');
    expect((await getRows(redis, keys, 'catalog', ['SKU-0500'])).get('SKU-0500')?.sku).toBe('SKU-0500');

    await profiles.delete(['u-0002']);
    const again = await applyDefinitionsOnce(deps, demoDir);
    expect(again).toEqual({ applied: false, reason: expect.stringMatching(/^handled at an earlier start \(applied /) });
    expect(await profiles.get('u-0002')).toBeUndefined();
  });

  it('leaves an installation that has definitions alone, for good', async () => {
    const deps = await setUp();
    await putSource(deps.redis, deps.keys, { kind: 'Source', id: 'mine', writeKeys: ['my-write-key'] });
    expect(await applyDefinitionsOnce(deps, demoDir)).toEqual({ applied: false, reason: 'the installation has definitions already' });
    expect(await marker(deps)).toMatch(/^skipped /);
    expect((await loadSources(deps.redis, deps.keys)).sources.map((s) => s.id)).toEqual(['mine']);
    expect((await loadTriggers(deps.redis, deps.keys)).triggers).toEqual([]);
  });

  it('reports every problem of a broken folder with file and line, applies nothing, and tries again at the next start', async () => {
    const deps = await setUp();
    const dir = demoCopy();
    const triggers = join(dir, 'triggers.yaml');
    writeFileSync(triggers, readFileSync(triggers, 'utf8').replace('type: abandonment', 'type: whenever'));
    const templates = join(dir, 'templates.yaml');
    writeFileSync(templates, readFileSync(templates, 'utf8').replace('templates/search-abandonment.fr.html.hbs', 'templates/missing.html.hbs'));
    const error = await applyDefinitionsOnce(deps, dir).catch((err: unknown) => err);
    expect(error).toBeInstanceOf(ReboundError);
    expect((error as ReboundError).code).toBe('CONFIG_INVALID');
    expect((error as ReboundError).path).toBe('demo.definitions');
    const lines = (error as ReboundError).message.split('\n');
    expect(lines[0]).toBe(`demo.definitions: ${dir} has 2 problems; nothing was applied:`);
    expect(lines.slice(1)).toEqual([
      expect.stringMatching(new RegExp(`^  ${join(dir, 'templates.yaml')}:\\d+: languages\\.fr\\.html: cannot read .*missing\\.html\\.hbs.*\\(BUNDLE_FILE_UNREADABLE\\)$`)),
      expect.stringMatching(new RegExp(`^  ${join(dir, 'triggers.yaml')}:\\d+: Trigger cart-abandonment: type: .*\\(TRIGGER_INVALID\\)$`)),
    ]);
    expect(await deps.redis.get(deps.keys.definitionsVersion())).toBeNull();
    expect(await marker(deps)).toMatch(/^applying /);
    // Fixed: the next start applies it.
    const fixed = await applyDefinitionsOnce(deps, demoDir);
    expect(fixed.applied).toBe(true);
  });

  it('finishes a start interrupted half-way (definitions applied, data not imported yet)', async () => {
    const deps = await setUp();
    const dir = demoCopy();
    rmSync(join(dir, 'profiles.ndjson'));
    await applyDefinitionsOnce(deps, dir);
    await deps.redis.hset(deps.keys.meta(), firstStartField, 'applying 2025-01-01T00:00:00.000Z');
    const resumed = await applyDefinitionsOnce(deps, demoDir);
    expect(resumed.applied).toBe(true);
    if (!resumed.applied) return;
    expect(resumed.definitions.unchanged).toHaveLength(18);
    expect(resumed.imports.find((f) => f.target === 'profiles')?.accepted).toBe(200);
  });

  it('imports the valid lines of a data file and puts the rejected ones in the data directory', async () => {
    const deps = await setUp();
    const dir = demoCopy();
    writeFileSync(join(dir, 'profiles.ndjson'), `${readFileSync(join(dir, 'profiles.ndjson'), 'utf8')}{"id":"u-9999","email":"not an address"}\n`);
    const result = await applyDefinitionsOnce(deps, dir);
    if (!result.applied) throw new Error('not applied');
    const profiles = result.imports.find((f) => f.target === 'profiles');
    expect(profiles).toMatchObject({ accepted: 200, rejected: 1, rejectsFile: join(deps.config.dataDir, 'profiles.ndjson.rejects') });
    expect(readFileSync(profiles?.rejectsFile as string, 'utf8')).toContain('"line":201');
    expect(existsSync(join(dir, 'profiles.ndjson.rejects'))).toBe(false);
  });

  it('applies nothing when Redis is configured or demo.firstStart is false', async () => {
    const deps = await setUp();
    expect(await firstStart(deps)).toEqual({ applied: false, reason: 'Redis is configured: only embedded defaults get the demo' });
    const off = { ...deps, config: parseConfig({ prefix: deps.config.prefix, demo: { firstStart: false } }) };
    expect(await firstStart(off)).toEqual({ applied: false, reason: 'demo.firstStart is false' });
    expect(await marker(deps)).toBeNull();
  });
});

interface Run {
  exited: Promise<number | null>;
  output: () => string;
  stop: () => void;
}

function startRebound(dataDir: string): Run {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'start'], {
    env: { ...process.env, REBOUND_DATA_DIR: dataDir, REBOUND_INGEST_PORT: '0', REBOUND_ADMIN_PORT: '0', REBOUND_METRICS_PORT: '0', REBOUND_REDIS_URL: '', REBOUND_REDIS_CLUSTER: '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let text = '';
  child.stdout.on('data', (chunk: Buffer) => (text += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (text += chunk.toString()));
  return { exited: new Promise((done) => child.once('exit', done)), output: () => text, stop: () => void child.kill('SIGTERM') };
}

async function started(run: Run): Promise<void> {
  for (let i = 0; i < 1200 && !run.output().includes('Rebound started'); i++) await new Promise((r) => setTimeout(r, 50));
  expect(run.output()).toContain('Rebound started');
}

// Child processes compiling TypeScript on a shared 2-core machine: generous, not a speed check.
describe('first start, as `rebound start` runs it', { timeout: 180_000 }, () => {
  it('applies the demo at the first start on embedded Redis, and a restart keeps the changes made since', async () => {
    const dataDir = tempDir('embedded');
    const first = startRebound(dataDir);
    await started(first);
    expect(first.output()).toMatch(/"msg":"first start: applied the definitions of .*config\/definitions \(18 definitions: 1 Source, 3 Triggers, 2 TestProfiles, 6 Events, 6 Templates; imported 500 catalog rows, 200 profiles\)"/);
    const redis = await connectRedis({ url: findEmbeddedRedis(dataDir) as string }, { connectTimeoutMs: 5000, name: 'test-first-start' });
    const keys = new Keys('rb', 16);
    const profiles = new ProfileStore(redis, keys, ['email', 'phone']);
    try {
      expect((await profiles.get('u-0001'))?.id).toBe('u-0001');
      await profiles.delete(['u-0001']);
      await putSource(redis, keys, { kind: 'Source', id: 'shop-web', writeKeys: ['rotated-write-key'] });
    } finally {
      await redis.close();
    }
    first.stop();
    expect(await first.exited).toBe(0);

    const second = startRebound(dataDir);
    await started(second);
    expect(second.output()).not.toContain('first start: applied');
    const again = await connectRedis({ url: findEmbeddedRedis(dataDir) as string }, { connectTimeoutMs: 5000, name: 'test-first-start' });
    try {
      expect(await new ProfileStore(again, keys, ['email', 'phone']).get('u-0001')).toBeUndefined();
      expect((await loadSources(again, keys)).sources.map((s) => s.writeKeys)).toEqual([['rotated-write-key']]);
    } finally {
      await again.close();
    }
    second.stop();
    expect(await second.exited).toBe(0);
  });
});

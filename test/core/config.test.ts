// The configuration contract: config/rebound.yaml documents exactly the schema's keys and
// defaults, invalid settings are reported all at once with key paths, REBOUND_* variables
// override the file, and the result is frozen.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { loadConfig, parseConfig } from '../../src/core/config.js';
import { ReboundError } from '../../src/core/errors.js';

const yamlPath = resolve(import.meta.dirname, '../../config/rebound.yaml');
const yamlText = readFileSync(yamlPath, 'utf8');
const tempDir = mkdtempSync(join(tmpdir(), 'rebound-config-'));
afterAll(() => rmSync(tempDir, { recursive: true, force: true }));

function isMapping(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** Dotted paths of every leaf (scalar, null or list) of a nested mapping. */
function leafPaths(value: unknown, prefix = ''): string[] {
  if (!isMapping(value)) return [prefix];
  return Object.entries(value).flatMap(([key, child]) => leafPaths(child, prefix ? `${prefix}.${key}` : key));
}

function writeTemp(name: string, text: string): string {
  const file = join(tempDir, name);
  writeFileSync(file, text);
  return file;
}

/** The ReboundError a function throws (fails the test when it throws nothing or something else). */
function thrown(fn: () => unknown): ReboundError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ReboundError);
    return err as ReboundError;
  }
  throw new Error('expected a ReboundError, nothing was thrown');
}

/** The comment lines directly above the line that sets `path` (a dotted key path) in the YAML text. */
function commentAbove(path: string): string {
  const lines = yamlText.split('\n');
  const parts = path.split('.');
  let from = 0;
  let index = -1;
  parts.forEach((part, depth) => {
    const pattern = new RegExp(`^${' '.repeat(depth * 2)}${part}:`);
    index = lines.findIndex((line, i) => i >= from && pattern.test(line));
    expect(index, `${path}: line of ${part}`).toBeGreaterThanOrEqual(0);
    from = index + 1;
  });
  const comments: string[] = [];
  for (let i = index - 1; i >= 0 && /^\s*#/.test(lines[i] ?? ''); i--) comments.unshift(lines[i] as string);
  return comments.join('\n');
}

describe('config/rebound.yaml documents the schema', () => {
  const documented: unknown = parseYaml(yamlText);
  const defaults = parseConfig({});

  it('validates to exactly the schema defaults', () => {
    expect(parseConfig(documented)).toEqual(defaults);
  });

  it('has every leaf key of the schema and no other', () => {
    expect(leafPaths(documented).sort()).toEqual(leafPaths(defaults).sort());
  });

  it('writes durations as strings with a unit', () => {
    const stages = (documented as { stages: Record<string, unknown> }).stages;
    expect(stages.claimIdle).toBe('15s');
    expect(stages.idlePoll).toBe('50ms');
    expect((documented as Record<string, unknown>).shutdownTimeout).toBe('10s');
  });

  it('has a comment line above every key that sets a value', () => {
    for (const path of leafPaths(defaults)) {
      expect(commentAbove(path), path).toMatch(/#\s*\S/);
    }
  });
});

/** Every variable of SPEC §1 that maps to a key, with a sample text and the value it gives. */
const envCases: Array<[variable: string, path: string, text: string, value: unknown]> = [
  ['REBOUND_PREFIX', 'prefix', 'shop2', 'shop2'],
  ['REBOUND_DATA_DIR', 'dataDir', '/var/lib/rebound', '/var/lib/rebound'],
  ['REBOUND_INSTANCE', 'instance', 'worker-7', 'worker-7'],
  ['REBOUND_REDIS_URL', 'redis.url', 'redis://10.0.0.5:6380/2', 'redis://10.0.0.5:6380/2'],
  ['REBOUND_REDIS_CLUSTER', 'redis.cluster', 'r1:7000, r2:7001,,r3:7002 ', ['r1:7000', 'r2:7001', 'r3:7002']],
  ['REBOUND_INGEST_HOST', 'ingest.host', '127.0.0.2', '127.0.0.2'],
  ['REBOUND_INGEST_PORT', 'ingest.port', '9090', 9090],
  ['REBOUND_ADMIN_HOST', 'admin.host', '0.0.0.0', '0.0.0.0'],
  ['REBOUND_ADMIN_PORT', 'admin.port', '0', 0],
  ['REBOUND_ADMIN_TOKEN', 'admin.token', 'a-token-of-enough-length', 'a-token-of-enough-length'],
  ['REBOUND_METRICS_HOST', 'metrics.host', '10.1.1.1', '10.1.1.1'],
  ['REBOUND_METRICS_PORT', 'metrics.port', '19464', 19464],
  ['REBOUND_LOG_LEVEL', 'log.level', 'debug', 'debug'],
];

function valueAt(config: unknown, path: string): unknown {
  return path.split('.').reduce<unknown>((node, key) => (node as Record<string, unknown>)[key], config);
}

describe('parseConfig', () => {
  it('reports every problem with its key path in one CONFIG_INVALID error', () => {
    const error = thrown(() =>
      parseConfig({
        stages: { claimIdle: '15 parsecs', batchSize: 0 },
        ingest: { port: -1, bogus: true },
        redis: { cluster: ['no-port'] },
      }),
    );
    expect(error.code).toBe('CONFIG_INVALID');
    expect(error.status).toBe(500);
    expect(error.retriable).toBe(false);
    const lines = error.message.split('\n').slice(1);
    expect(lines).toHaveLength(5);
    expect(error.message).toMatch(/^\s+stages\.claimIdle: .*"15 parsecs" is not a duration/m);
    expect(error.message).toMatch(/^\s+stages\.batchSize: /m);
    expect(error.message).toMatch(/^\s+ingest\.port: /m);
    expect(error.message).toMatch(/^\s+ingest: .*bogus/m);
    expect(error.message).toMatch(/^\s+redis\.cluster\.0: expected host:port/m);
  });

  it('rejects an unknown top-level key', () => {
    const error = thrown(() => parseConfig({ partitons: 8 }));
    expect(error.code).toBe('CONFIG_INVALID');
    expect(error.message).toContain('partitons');
  });

  it('parses durations into milliseconds', () => {
    const config = parseConfig({ stages: { claimIdle: '2m', idlePoll: '250ms' }, shutdownTimeout: '1.5s' });
    expect(config.stages.claimIdle).toBe(120_000);
    expect(config.stages.idlePoll).toBe(250);
    expect(config.shutdownTimeout).toBe(1500);
  });

  it('returns a deeply frozen object', () => {
    const config = parseConfig({ redis: { cluster: ['a:1'] } });
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.stages)).toBe(true);
    expect(Object.isFrozen(config.redis.embedded)).toBe(true);
    expect(Object.isFrozen(config.redis.cluster)).toBe(true);
    expect(() => {
      (config.stages as { batchSize: number }).batchSize = 1;
    }).toThrow(TypeError);
    expect(() => (config.redis.cluster as string[]).push('b:2')).toThrow(TypeError);
    expect(config.stages.batchSize).toBe(100);
  });
});

describe('loadConfig', () => {
  const file = writeTemp('rebound.yaml', 'prefix: fromfile\ningest:\n  port: 1234\n  host: 10.0.0.1\nstages:\n  claimIdle: 30s\n');

  it('reads the file and keeps the defaults of what it leaves out', () => {
    const config = loadConfig({ env: {}, file });
    expect(config.prefix).toBe('fromfile');
    expect(config.ingest.port).toBe(1234);
    expect(config.stages.claimIdle).toBe(30_000);
    expect(config.stages.batchSize).toBe(100);
    expect(config.redis.url).toBeNull();
  });

  it('lets REBOUND_* variables override the file', () => {
    const config = loadConfig({
      file,
      env: {
        REBOUND_REDIS_URL: 'redis://127.0.0.1:6390',
        REBOUND_REDIS_CLUSTER: '10.0.0.1:7000,10.0.0.2:7000, 10.0.0.3:7000',
        REBOUND_PREFIX: 'fromenv',
        REBOUND_INGEST_PORT: '8181',
      },
    });
    expect(config.redis.url).toBe('redis://127.0.0.1:6390');
    expect(config.redis.cluster).toEqual(['10.0.0.1:7000', '10.0.0.2:7000', '10.0.0.3:7000']);
    expect(config.prefix).toBe('fromenv');
    expect(config.ingest.port).toBe(8181);
    expect(config.ingest.host).toBe('10.0.0.1');
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.ingest)).toBe(true);
  });

  it.each(envCases)('maps %s to %s, and the YAML comment of that key names it', (variable, path, text, value) => {
    const config = loadConfig({ file, env: { [variable]: text } });
    expect(valueAt(config, path)).toEqual(value);
    expect(commentAbove(path)).toContain(variable);
  });

  it('ignores empty variables', () => {
    const config = loadConfig({ file, env: { REBOUND_PREFIX: '', REBOUND_INGEST_PORT: '' } });
    expect(config.prefix).toBe('fromfile');
    expect(config.ingest.port).toBe(1234);
  });

  it('reports a bad variable value with the key path it maps to', () => {
    const error = thrown(() => loadConfig({ file, env: { REBOUND_INGEST_PORT: 'eighty', REBOUND_ADMIN_PORT: '70000' } }));
    expect(error.code).toBe('CONFIG_INVALID');
    expect(error.message).toMatch(/^\s+ingest\.port: /m);
    expect(error.message).toMatch(/^\s+admin\.port: /m);
    expect(error.message).toContain(file);
  });

  it('finds the file through REBOUND_CONFIG', () => {
    expect(loadConfig({ env: { REBOUND_CONFIG: file } }).prefix).toBe('fromfile');
  });

  it('fails with CONFIG_FILE_UNREADABLE when an explicitly named file is missing', () => {
    const missing = join(tempDir, 'missing.yaml');
    const error = thrown(() => loadConfig({ env: {}, file: missing }));
    expect(error.code).toBe('CONFIG_FILE_UNREADABLE');
    expect(error.message).toContain(missing);
    expect(thrown(() => loadConfig({ env: { REBOUND_CONFIG: missing } })).code).toBe('CONFIG_FILE_UNREADABLE');
  });

  it('runs on defaults when the default file is absent', () => {
    const empty = join(tempDir, 'empty-cwd');
    mkdirSync(empty, { recursive: true });
    const cwd = process.cwd();
    process.chdir(empty);
    try {
      expect(loadConfig({ env: {} })).toEqual(parseConfig({}));
    } finally {
      process.chdir(cwd);
    }
  });

  it('reads config/rebound.yaml by default', () => {
    expect(loadConfig({ env: {} })).toEqual(parseConfig({}));
  });

  it('treats an empty file as all defaults', () => {
    expect(loadConfig({ env: {}, file: writeTemp('empty.yaml', '# nothing set\n') })).toEqual(parseConfig({}));
  });

  it('reports malformed YAML and a non-mapping top level as CONFIG_INVALID naming the file', () => {
    const broken = writeTemp('broken.yaml', 'ingest:\n  port: [8080\n');
    const error = thrown(() => loadConfig({ env: {}, file: broken }));
    expect(error.code).toBe('CONFIG_INVALID');
    expect(error.message).toContain(broken);
    const list = writeTemp('list.yaml', '- prefix\n- rb\n');
    expect(thrown(() => loadConfig({ env: {}, file: list })).message).toMatch(/mapping/);
  });
});

// `rebound status` on a pipeline in trouble: a dead letter, a group far behind, an entry pending
// for long, a process that stopped heartbeating. Each is a warning, the figure is painted
// (red: act, yellow: look) on a terminal or with FORCE_COLOR, and never with NO_COLOR.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { encode } from '../../src/core/codec.js';
import { connectRedis, type RedisPort } from '../../src/core/redis/client.js';
import { Keys } from '../../src/core/redis/keys.js';
import type { StatusReport } from '../../src/cli/status-report.js';
import { newPrefix } from '../stages/pipeline-helpers.js';
import { configFile, runCli } from './helpers.js';

const red = '\u001b[31m';
const yellow = '\u001b[33m';
const prefix = newPrefix();
let redis: RedisPort;
let config: string;

beforeAll(async () => {
  const url = inject('redisUrl');
  redis = await connectRedis({ url }, { connectTimeoutMs: 10_000, name: 'test' });
  const keys = new Keys(prefix, 4);
  config = configFile({ prefix, partitions: 4, redis: { url }, stages: { claimIdle: '1s' } });
  await redis.xgroupCreate(keys.stream(1, 'hits'), 'detect', '0');
  const entries = Array.from({ length: 12_000 }, (_, n) => ({ key: keys.stream(1, 'hits'), data: encode({ n }) }));
  for (let i = 0; i < entries.length; i += 2000) await redis.xaddMany(entries.slice(i, i + 2000));
  await redis.xreadgroup(keys.stream(1, 'hits'), 'detect', 'stuck-worker', '>', 1);
  await redis.xadd(keys.deadLetters(2, 'fired'), encode({ poison: true }));
  const gone = { instance: 'detect-7', host: 'box', pid: 7, roles: ['detect'], metricsUrl: 'http://127.0.0.1:1', startedAt: Date.now() - 600_000, seenAt: Date.now() - 120_000 };
  await redis.hset(keys.processes(), gone.instance, JSON.stringify(gone));
  await new Promise((r) => setTimeout(r, 1100)); // the read entry is now pending for longer than claimIdle (1 s)
});
afterAll(() => redis.close());

describe('rebound status warnings', () => {
  it('--json lists each problem as a warning with its level', async () => {
    const result = await runCli(['status', '--json', '--config', config]);
    expect(result.code, result.output).toBe(0);
    const report = JSON.parse(result.stdout) as StatusReport;
    expect(report.groups).toEqual([expect.objectContaining({ stream: 'hits', group: 'detect', length: 12_000, lag: 11_999, pending: 1 })]);
    expect(report.deadLetters).toEqual([{ stream: 'fired', entries: 1 }]);
    expect(report.processes).toEqual([expect.objectContaining({ instance: 'detect-7', state: 'gone' })]);
    expect(report.warnings).toEqual([
      { level: 'critical', text: 'dead letters: fired has 1 (rebound dlq list)' },
      { level: 'warn', text: 'hits/detect: 11999 entries not yet read' },
      { level: 'warn', text: expect.stringMatching(/^hits\/detect: an entry pending for \d+ s \(claimed by another consumer after 1 s\)$/) },
      { level: 'warn', text: expect.stringMatching(/^process detect-7 \(detect\) not seen for \d+ s$/) },
      { level: 'warn', text: 'no live Rebound process registered with this Redis and prefix' },
    ]);
  });

  it('paints the figures past their threshold with FORCE_COLOR', async () => {
    const result = await runCli(['status', '--config', config], { FORCE_COLOR: '1', NO_COLOR: '' });
    expect(result.code, result.output).toBe(0);
    expect(result.stdout).toContain(`${red}dead letters: fired 1\u001b[39m`);
    expect(result.stdout).toMatch(new RegExp(`hits\\s+detect\\s+12000\\s+${yellow.replace('[', '\\[')}11999`));
    expect(result.stdout).toContain(`${red}  ! dead letters: fired has 1 (rebound dlq list)\u001b[39m`);
    expect(result.stdout).toContain(`${yellow}gone`);
  });

  it('prints no colour with NO_COLOR, even when asked to force it, nor when not on a terminal', async () => {
    for (const env of [{ FORCE_COLOR: '1', NO_COLOR: '1' }, { FORCE_COLOR: '', NO_COLOR: '' }]) {
      const result = await runCli(['status', '--config', config], env);
      expect(result.code, result.output).toBe(0);
      expect(result.stdout).not.toContain('\u001b[');
      expect(result.stdout).toContain('dead letters: fired 1');
      expect(result.stdout).toMatch(/hits\s+detect\s+12000\s+11999\s+1\s+\S+\s+1/);
      expect(result.stdout).toContain('  ! hits/detect: 11999 entries not yet read');
    }
  });
});

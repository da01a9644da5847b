// A real `rebound start --roles ingest,detect` on a known workload, scraped as Prometheus would:
// the counters equal the work done (hits written, requests, entries, triggers fired), the
// histograms counted what they should, the stream gauges show the drained pipeline, no label
// carries personal data; /status and `rebound status --json` tell the same story.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { connectRedis, type RedisPort } from '../../src/core/redis/client.js';
import { Keys } from '../../src/core/redis/keys.js';
import { putSource } from '../../src/model/source-store.js';
import { putTrigger } from '../../src/model/trigger-store.js';
import type { ProcessStatus } from '../../src/stages/runtime/process-status.js';
import type { StatusReport } from '../../src/cli/status-report.js';
import { waitFor } from '../support/processes.js';
import { newPrefix } from '../stages/pipeline-helpers.js';
import { configFile, runCli, scrape, startRebound, valueOf, type ReboundProcess, type Scrape } from './helpers.js';

const writeKey = 'wk_obs_0123456789';
const cartAbandonment = {
  kind: 'Trigger', id: 'cart-abandonment', name: 'Cart abandonment', source: 'shop-web', type: 'abandonment',
  include: { match: 'all', containers: [[{ metric: 'scAdd', op: 'exists' }]] },
  exclude: { match: 'any', containers: [[{ metric: 'purchase', op: 'exists' }]] },
  inactivity: '1s', metadata: ['pageName'],
};

const run = randomBytes(3).toString('hex');
const abandoning = Array.from({ length: 8 }, (_, i) => ({ visitor: `anon-obs-${run}-a${i}`, email: `abandoner.${i}.${run}@example.com` }));
const buying = Array.from({ length: 4 }, (_, i) => ({ visitor: `anon-obs-${run}-b${i}`, email: `buyer.${i}.${run}@example.com` }));
let messageIds: string[] = [];

const prefix = newPrefix();
const partitions = 4;
let config: string;
let redis: RedisPort;
let rebound: ReboundProcess;
let requests = 0;
let hitsSent = 0;

async function post(path: string, body: unknown): Promise<void> {
  const response = await fetch(`${rebound.ingestUrl}${path}`, {
    method: 'POST',
    headers: { authorization: `Basic ${Buffer.from(`${writeKey}:`).toString('base64')}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  requests++;
  expect(response.status, await response.text()).toBe(200);
}

function track(visitor: string, email: string, event: string, at: number): Record<string, unknown> {
  const messageId = `msg-${visitor}-${event.replace(' ', '')}`;
  messageIds.push(messageId);
  hitsSent++;
  return { type: 'track', anonymousId: visitor, userId: email, messageId, event, timestamp: new Date(at).toISOString(), properties: { product_id: 'SKU-1', price: 10 }, context: { traits: { email } } };
}

async function drained(keys: Keys): Promise<boolean> {
  for (const p of keys.allPartitions()) {
    if ((await redis.zcard(keys.timers(p))) > 0) return false;
    const group = (await redis.xinfoGroups(keys.stream(p, 'hits'))).find((g) => g.name === 'detect');
    if (group !== undefined && (group.pending > 0 || group.lag !== 0)) return false;
  }
  return true;
}

beforeAll(async () => {
  const url = inject('redisUrl');
  redis = await connectRedis({ url }, { connectTimeoutMs: 10_000, name: 'test' });
  const keys = new Keys(prefix, partitions);
  await putSource(redis, keys, { kind: 'Source', id: 'shop-web', writeKeys: [writeKey] });
  await putTrigger(redis, keys, cartAbandonment);
  config = configFile({
    prefix,
    partitions,
    redis: { url },
    stages: { idlePoll: '10ms', trimEvery: '1h' },
    detect: { settle: '200ms', timerTick: '50ms', definitionsPoll: '200ms' },
    ingest: { host: '127.0.0.1', port: 0, sourcesPoll: '200ms' },
  });
  rebound = await startRebound(['--roles', 'ingest,detect', '--config', config]);
  const start = Date.now() - 5000;
  messageIds = [];
  await post('/v1/batch', { batch: abandoning.slice(0, 4).map((v) => track(v.visitor, v.email, 'Product Added', start)) });
  await post('/v1/batch', { batch: buying.flatMap((v) => [track(v.visitor, v.email, 'Product Added', start), track(v.visitor, v.email, 'Order Completed', start + 1000)]) });
  for (const v of abandoning.slice(4)) await post('/v1/track', track(v.visitor, v.email, 'Product Added', start));
  await waitFor('every hit applied and every timer decided', () => drained(keys), 30_000);
  await waitFor('the 8 fires counted', async () => valueOf(await scrape(rebound.metricsUrl), 'rebound_triggers_fired_total') === abandoning.length, 30_000);
}, 120_000);

afterAll(async () => {
  expect(await rebound.stop()).toBe(0);
  await redis.close();
});

describe('a scraped pipeline after a known workload', () => {
  let metrics: Scrape;
  beforeAll(async () => {
    metrics = await scrape(rebound.metricsUrl);
  });

  it('counts every hit written, every request and every byte', () => {
    expect(valueOf(metrics, 'rebound_ingest_hits_total', { source: 'shop-web', result: 'written' })).toBe(hitsSent);
    expect(valueOf(metrics, 'rebound_ingest_hits_total', { result: 'rejected' }) ?? 0).toBe(0);
    expect(valueOf(metrics, 'rebound_ingest_request_seconds_count')).toBe(requests);
    expect(valueOf(metrics, 'rebound_ingest_bytes_total')).toBeGreaterThan(hitsSent * 100);
  });

  it('counts one fire per abandoned cart and none for the buyers, with one hit→fire observation each', () => {
    expect(valueOf(metrics, 'rebound_triggers_fired_total', { trigger: 'cart-abandonment' })).toBe(abandoning.length);
    expect(valueOf(metrics, 'rebound_hit_to_fire_seconds_count', { trigger: 'cart-abandonment' })).toBe(abandoning.length);
    expect(valueOf(metrics, 'rebound_hit_to_fire_seconds_bucket', { trigger: 'cart-abandonment', le: '+Inf' })).toBe(abandoning.length);
    // every inactivity window is 1 s: no fire came sooner than 1 s after the last hit
    expect(valueOf(metrics, 'rebound_hit_to_fire_seconds_bucket', { trigger: 'cart-abandonment', le: '0.5' })).toBe(0);
  });

  it('observes the lateness of every timer decided, fired or not', () => {
    const decided = valueOf(metrics, 'rebound_timer_decisions_total') ?? 0;
    expect(decided).toBeGreaterThanOrEqual(abandoning.length);
    expect(valueOf(metrics, 'rebound_timer_lag_seconds_count')).toBe(decided);
  });

  it('counts every hits entry handled by the detect stage once, and shows the drained streams', async () => {
    const keys = new Keys(prefix, partitions);
    let entries = 0;
    for (const p of keys.allPartitions()) entries += await redis.xlen(keys.stream(p, 'hits'));
    expect(valueOf(metrics, 'rebound_stage_entries_total', { stage: 'detect', result: 'ok' })).toBe(entries);
    expect(valueOf(metrics, 'rebound_stage_received_total', { stage: 'detect' })).toBe(entries);
    expect(valueOf(metrics, 'rebound_stage_seconds_count', { stage: 'detect' })).toBeGreaterThan(0);
    expect(valueOf(metrics, 'rebound_stream_lag', { stream: 'hits', group: 'detect' })).toBe(0);
    expect(valueOf(metrics, 'rebound_stream_pending', { stream: 'hits', group: 'detect' })).toBe(0);
    expect(valueOf(metrics, 'rebound_dlq_entries', { stream: 'hits' })).toBe(0);
    expect(valueOf(metrics, 'rebound_timer_overdue_seconds')).toBe(0);
    expect(valueOf(metrics, 'rebound_redis_up')).toBe(1);
  });

  it('labels every SPEC §9 series it exports as SPEC §9 says, and buckets hit→fire from 10 ms to 3600 s with edges at 60, 300 and 900 s', () => {
    const specLabels: Record<string, string[]> = {
      rebound_ingest_hits_total: ['source', 'result'],
      rebound_triggers_fired_total: ['trigger'],
      rebound_messages_total: ['event', 'channel', 'status', 'reason'],
      rebound_hit_to_fire_seconds_bucket: ['trigger', 'le'],
      rebound_fire_to_send_seconds_bucket: ['event', 'channel', 'le'],
      rebound_budget_exceeded_total: ['event'],
      rebound_stage_seconds_bucket: ['stage', 'le'],
      rebound_stream_lag: ['stream', 'group'],
      rebound_stream_pending: ['stream', 'group'],
      rebound_cache_requests_total: ['cache', 'result'],
      rebound_channel_sends_total: ['channel', 'result'],
      rebound_dlq_entries: ['stream'],
    };
    const wrong = metrics.samples.filter((s) => specLabels[s.name] !== undefined && Object.keys(s.labels).sort().join() !== [...(specLabels[s.name] as string[])].sort().join());
    expect(wrong).toEqual([]);
    expect(metrics.samples.filter((s) => specLabels[s.name] !== undefined).length).toBeGreaterThan(6);
    const bounds = metrics.samples.filter((s) => s.name === 'rebound_hit_to_fire_seconds_bucket' && s.labels.trigger === 'cart-abandonment').map((s) => s.labels.le);
    expect(bounds[0]).toBe('0.01');
    expect(bounds.slice(-2)).toEqual(['3600', '+Inf']);
    expect(bounds).toEqual(expect.arrayContaining(['60', '300', '900']));
  });

  it('carries no visitor id, email or message id in any label', () => {
    const personal = [...abandoning, ...buying].flatMap((v) => [v.visitor, v.email]).concat(messageIds);
    const labelValues = metrics.samples.flatMap((s) => Object.values(s.labels));
    expect(labelValues.filter((value) => value.includes('@') || personal.some((p) => value.includes(p)))).toEqual([]);
    expect(personal.filter((p) => metrics.text.includes(p))).toEqual([]);
    expect(run.length).toBe(6); // the personal strings are unique to this run, so a match above would be a leak
  });
});

describe('/status and rebound status after the same workload', () => {
  it('/status reports the roles, the rates and latencies of the last minute, and the streams', async () => {
    const status = (await (await fetch(rebound.statusUrl)).json()) as ProcessStatus;
    expect(status.roles).toEqual(['ingest', 'detect']);
    expect(status.rates.hits).toBeGreaterThan(0);
    expect(status.rates.fires).toBeGreaterThan(0);
    expect(status.latency.hitToFire.count).toBe(abandoning.length);
    expect(status.latency.hitToFire.p50).toBeGreaterThanOrEqual(1);
    expect(status.failures).toEqual({ deadLettered: 0, deliveryFailed: 0, tooOld: 0, budgetExceeded: 0 });
    expect(status.redis.status).toBe('ready');
    expect(status.streamGaugeLeader).toBe(true);
    expect(status.pipeline).toMatchObject({ groups: expect.arrayContaining([expect.objectContaining({ stream: 'hits', group: 'detect', lag: 0, pending: 0 })]), deadLetters: [] });
  });

  it('rebound status --json merges the live process into the same picture', async () => {
    const result = await runCli(['status', '--json', '--config', config]);
    expect(result.code, result.output).toBe(0);
    const report = JSON.parse(result.stdout) as StatusReport;
    expect(report.processes).toEqual([expect.objectContaining({ roles: ['ingest', 'detect'], state: 'live', streamGaugeLeader: true })]);
    expect(report.latency.hitToFire.count).toBe(abandoning.length);
    expect(report.rates.fires).toBeGreaterThan(0);
    expect(report.groups).toEqual(expect.arrayContaining([expect.objectContaining({ stream: 'hits', group: 'detect', lag: 0, pending: 0 })]));
    expect(report.warnings.filter((w) => w.level === 'critical')).toEqual([]);
  });
});

// Every PromQL expression of the Grafana dashboard and of the alert rules names only metrics that
// Rebound exports: the SPEC §9 names, and what a running `rebound start` (every available role)
// shows on its live /metrics — plus Prometheus's `up`, redis_exporter's memory and up series, and
// the rules' own recorded series. Every dashboard query is valid PromQL (promtool), and the
// dashboard is templated by instance and event with the budget line on fire→send.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { newPrefix } from '../stages/pipeline-helpers.js';
import { configFile, exportedNames, metricNames, promtool, scrape, startRebound, type ReboundProcess, type Scrape } from './helpers.js';

/** SPEC §9's names by the role that exports them (the runtime's under every stage role). */
const specNames: Record<string, string[]> = {
  ingest: ['rebound_ingest_hits_total', 'rebound_ingest_request_seconds', 'rebound_ingest_bytes_total'],
  detect: ['rebound_triggers_fired_total', 'rebound_hit_to_fire_seconds', 'rebound_timer_lag_seconds', 'rebound_stage_seconds'],
  campaign: ['rebound_messages_total', 'rebound_cache_requests_total', 'rebound_stage_seconds'],
  deliver: ['rebound_fire_to_send_seconds', 'rebound_budget_exceeded_total', 'rebound_channel_sends_total', 'rebound_stage_seconds'],
  any: ['rebound_stream_lag', 'rebound_stream_pending', 'rebound_dlq_entries'],
};
const histograms = new Set(['rebound_ingest_request_seconds', 'rebound_hit_to_fire_seconds', 'rebound_fire_to_send_seconds', 'rebound_stage_seconds', 'rebound_timer_lag_seconds']);
const withSuffixes = (name: string): string[] => (histograms.has(name) ? [`${name}_bucket`, `${name}_sum`, `${name}_count`] : [name]);
const specSeries = new Set(Object.values(specNames).flat().flatMap(withSuffixes));
const outsideRebound = new Set(['up', 'redis_up', 'redis_memory_used_bytes', 'redis_memory_max_bytes']);

interface Panel {
  title?: string;
  type: string;
  targets?: Array<{ expr?: string }>;
  panels?: Panel[];
  fieldConfig?: { defaults?: { thresholds?: { steps?: Array<{ value: number | null }> }; custom?: { thresholdsStyle?: { mode?: string } } } };
}
interface Dashboard {
  panels: Panel[];
  templating: { list: Array<{ name: string; query?: string | { query: string } }> };
}
interface RuleFile {
  groups: Array<{ rules: Array<{ record?: string; alert?: string; expr: string }> }>;
}

const dashboard = JSON.parse(readFileSync(resolve(import.meta.dirname, '../../config/grafana/rebound.json'), 'utf8')) as Dashboard;
const rules = parse(readFileSync(resolve(import.meta.dirname, '../../config/prometheus/alerts.yml'), 'utf8')) as RuleFile;
const panels = (list: Panel[]): Panel[] => list.flatMap((p) => [p, ...panels(p.panels ?? [])]);
const dashboardExprs = panels(dashboard.panels).flatMap((p) => (p.targets ?? []).map((t) => ({ title: p.title ?? '', expr: t.expr ?? '' })));
const ruleExprs = rules.groups.flatMap((g) => g.rules.map((r) => ({ title: r.record ?? r.alert ?? '', expr: r.expr })));
const recorded = new Set(rules.groups.flatMap((g) => g.rules.flatMap((r) => (r.record ? [r.record] : []))));

let rebound: ReboundProcess;
let live: Scrape;
beforeAll(async () => {
  rebound = await startRebound(['--config', configFile({ prefix: newPrefix(), partitions: 4, redis: { url: inject('redisUrl') } })]);
  live = await scrape(rebound.metricsUrl);
});
afterAll(async () => {
  expect(await rebound.stop()).toBe(0);
});

describe('metric names in the dashboard and the rules', () => {
  it('the live process exports the SPEC §9 names of each role it runs', () => {
    const roles = live.samples.filter((s) => s.name === 'rebound_process_role').map((s) => s.labels.role as string);
    expect(roles).toEqual(expect.arrayContaining(['ingest', 'detect']));
    const exported = exportedNames(live);
    const expected = [...roles, 'any'].flatMap((role) => specNames[role] ?? []).flatMap(withSuffixes);
    expect(expected.filter((name) => !exported.has(name))).toEqual([]);
    for (const name of ['process_cpu_seconds_total', 'process_resident_memory_bytes', 'nodejs_eventloop_lag_p99_seconds']) expect(exported.has(name), name).toBe(true);
  });

  it('every dashboard query names only exported metrics', () => {
    const exported = exportedNames(live);
    expect(dashboardExprs.length).toBeGreaterThan(25);
    const unknown = dashboardExprs.flatMap(({ title, expr }) => metricNames(expr).filter((n) => !exported.has(n) && !specSeries.has(n) && !outsideRebound.has(n)).map((n) => `${title}: ${n}`));
    expect(unknown).toEqual([]);
    const variables = dashboard.templating.list.flatMap((v) => (typeof v.query === 'object' ? [v.query.query] : []));
    const templated = variables.map((q) => /^label_values\(([a-zA-Z_:][a-zA-Z0-9_:]*),/.exec(q)?.[1]);
    expect(templated.filter((n) => n === undefined || (!exported.has(n) && !specSeries.has(n)))).toEqual([]);
  });

  it('every rule names only exported metrics or series recorded by the rules', () => {
    const exported = exportedNames(live);
    const unknown = ruleExprs.flatMap(({ title, expr }) => metricNames(expr).filter((n) => !exported.has(n) && !specSeries.has(n) && !outsideRebound.has(n) && !recorded.has(n)).map((n) => `${title}: ${n}`));
    expect(unknown).toEqual([]);
  });

  it('the name extraction finds what it should (so that the checks above can fail)', () => {
    expect(metricNames('histogram_quantile(0.99, sum by (le) (rate(rebound_fire_to_send_seconds_bucket{instance=~"$instance", event="x"}[$__rate_interval])))')).toEqual(['rebound_fire_to_send_seconds_bucket']);
    expect(metricNames('sum(rate(a_total[5m])) / sum without (x) (b) > 1e3 or on() c offset 1h unless time() - d')).toEqual(['a_total', 'b', 'c', 'd']);
  });
});

describe('the dashboard', () => {
  it('is templated by instance and event, and per-process queries follow $instance', () => {
    expect(dashboard.templating.list.map((v) => v.name)).toEqual(expect.arrayContaining(['instance', 'event']));
    const perProcess = dashboardExprs.filter(({ expr }) => /rebound_(ingest|triggers|messages|stage_entries|fire_to_send|hit_to_fire|cache|channel)/.test(expr));
    expect(perProcess.filter(({ expr }) => !expr.includes('instance=~"$instance"'))).toEqual([]);
    expect(dashboardExprs.filter(({ expr }) => /rebound_(messages_total|fire_to_send|budget_exceeded)/.test(expr) && !expr.includes('event=~"$event"'))).toEqual([]);
  });

  it('draws fire→send p50 and p99 against a 900 s threshold line', () => {
    const panel = panels(dashboard.panels).find((p) => p.title?.startsWith('Fire→send p50'));
    expect(panel?.targets?.map((t) => t.expr)).toEqual([expect.stringMatching(/^histogram_quantile\(0\.5, .*rebound_fire_to_send_seconds_bucket/), expect.stringMatching(/^histogram_quantile\(0\.99, .*rebound_fire_to_send_seconds_bucket/)]);
    expect(panel?.fieldConfig?.defaults?.custom?.thresholdsStyle?.mode).toBe('line');
    expect(panel?.fieldConfig?.defaults?.thresholds?.steps?.map((s) => s.value)).toContain(900);
  });

  it('has a panel for each figure SPEC §9 and the issue ask for', () => {
    const titles = panels(dashboard.panels).map((p) => p.title ?? '');
    for (const title of ['Hits/s', 'Fires/s', 'Messages/s by status', 'Fire→send p50 / p99', 'Hit→fire p50 / p99', 'Lag per stage', 'Pending per stage', 'Timer lag', 'Cache hit ratio', 'Channel results/s', 'Dead letters by stream', 'Redis memory']) {
      expect(titles).toContain(title);
    }
  });

  it('every query is valid PromQL (promtool, with the Grafana variables filled in)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rebound-dashboard-'));
    const filled = dashboardExprs.map(({ expr }, i) => ({ record: `dashboard:query_${i}`, expr: expr.replaceAll('$__rate_interval', '5m').replace(/\$\w+/g, '.*') }));
    writeFileSync(join(dir, 'dashboard-rules.yml'), stringify({ groups: [{ name: 'dashboard', rules: filled }] }));
    const result = await promtool(dir, 'check', 'rules', 'dashboard-rules.yml');
    expect(result.code, result.output).toBe(0);
    expect(result.output).toContain(`SUCCESS: ${filled.length} rules found`);
  });
});

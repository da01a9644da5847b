// Scenario "scaleout": 1 vs 2 processes of each role (`rebound start --roles <role>`, unchanged)
// on a standalone redis-server and on a 3-master Redis Cluster: the same work timed with one
// process, then again once a second process of the role has joined (both warmed up first). The
// ratio 2/1 is the scale-out figure of SPEC §11 (≥ 1.7 where cores allow).
import { Redis } from 'ioredis';
import { cpus, loadavg } from 'node:os';
import { parseConfig } from '../../src/core/config.js';
import { connectRedis, type RedisPort } from '../../src/core/redis/client.js';
import { Keys } from '../../src/core/redis/keys.js';
import { freePort, startCluster, startRedis } from '../../test/support/redis-server.js';
import { round, type ResultRow, type Scenario, type ScenarioContext } from '../support/harness.js';
import { cpuSeconds, type Tracked } from '../support/processes.js';
import { reapWithHarness } from '../support/reaper.js';
import { fmt } from '../support/redis-info.js';
import { startRoles, stopRoles, writeConfig, type RedisTarget, type RoleProcess } from './e2e-rebound.js';
import { defineShop, loadShopData } from './e2e-shop.js';
import { startSmtpSink, type SmtpSink } from './e2e-sink.js';
import { appendAll, appendEmails, backlog, firedEntries, hitEntries, ingestLoad, outboxLength, waitUntil } from './scaleout-work.js';

const SCENARIO = 'scaleout';
const PARTITIONS = 16;
const envCount = (name: string, fallback: number): number => Math.max(1, Math.floor(Number(process.env[name] ?? fallback)) || fallback);
const HITS = envCount('BENCH_SCALEOUT_HITS', 300_000);
const FIRED = envCount('BENCH_SCALEOUT_FIRED', 5000);
const EMAILS = envCount('BENCH_SCALEOUT_EMAILS', 3000);
const PROFILES = 5000;
const PRODUCTS = 1000;
const INGEST_WARMUP_MS = 1000;
const INGEST_MS = 5000;
const MEASURE_TIMEOUT_MS = 90_000;
const TARGET_SCALE = 1.7;
const roles = ['ingest', 'detect', 'campaign', 'deliver'] as const;
type Role = (typeof roles)[number];
/** BENCH_SCALEOUT_ROLES=detect,campaign picks roles while iterating (default: all). */
const picked = roles.filter((role) => (process.env.BENCH_SCALEOUT_ROLES ?? roles.join(',')).split(',').includes(role));

interface Topology {
  name: 'standalone' | 'cluster';
  target: RedisTarget;
  redis: RedisPort;
  /** Standalone only: raw writes for the profile preload. */
  raw?: Redis;
  redisPids: number[];
  close(): Promise<void>;
}

interface Env {
  ctx: ScenarioContext;
  sink: SmtpSink;
  say(text: string): void;
}

interface Measured {
  items: number;
  seconds: number;
  complete: boolean;
  roleCpu: number | null;
  redisCpu: number | null;
}

const units: Record<Role, string> = { ingest: 'hits', detect: 'hits', campaign: 'messages', deliver: 'emails' };

async function standalone(): Promise<Topology> {
  const server = await startRedis({ appendonly: true });
  const reaper = reapWithHarness(server.pid, server.dir);
  const redis = await connectRedis({ url: server.url }, { connectTimeoutMs: 10_000, name: 'bench' });
  const raw = new Redis(server.url, { connectionName: 'bench-raw' });
  return {
    name: 'standalone', target: { url: server.url }, redis, raw, redisPids: [server.pid],
    async close() {
      await redis.close();
      raw.disconnect();
      await server.stop();
      await reaper.stop(1000);
    },
  };
}

async function cluster(): Promise<Topology> {
  const c = await startCluster();
  const reapers: Tracked[] = c.nodes.map((n) => reapWithHarness(n.pid, n.dir));
  const seeds = c.seeds.split(',');
  const redis = await connectRedis({ cluster: seeds }, { connectTimeoutMs: 10_000, name: 'bench' });
  return {
    name: 'cluster', target: { cluster: seeds }, redis, redisPids: c.nodes.map((n) => n.pid),
    async close() {
      await redis.close();
      await c.stop();
      for (const r of reapers) await r.stop(1000);
    },
  };
}

const sumCpu = (pids: readonly number[]): number | null => {
  let total = 0;
  for (const pid of pids) {
    const cpu = cpuSeconds(pid);
    if (cpu === null) return null;
    total += cpu;
  }
  return total;
};

/** Times `work` (which resolves once everything is done, or false on timeout) with the CPU of the role's processes and of Redis. */
async function timed(procs: readonly RoleProcess[], topology: Topology, items: number, work: () => Promise<boolean>): Promise<Measured> {
  const pids = procs.map((p) => p.proc.pid);
  const before = [sumCpu(pids), sumCpu(topology.redisPids)];
  const t0 = performance.now();
  const complete = await work();
  const seconds = (performance.now() - t0) / 1000;
  const after = [sumCpu(pids), sumCpu(topology.redisPids)];
  const cores = (i: number): number | null => (after[i] === null || before[i] === null ? null : round(((after[i] as number) - (before[i] as number)) / seconds));
  return { items, seconds, complete, roleCpu: cores(0), redisCpu: cores(1) };
}

/** One round of the role's work on `procs`: a warm-up, then the measured part. */
async function measure(env: Env, role: Role, topology: Topology, keys: Keys, procs: readonly RoleProcess[], roundNo: number): Promise<Measured> {
  const { redis } = topology;
  const until = (): number => Math.min(Date.now() + MEASURE_TIMEOUT_MS, env.ctx.deadline - 30_000);
  const tag = `${roundNo}`;
  switch (role) {
    case 'ingest': {
      const port = procs[0]?.port ?? 0;
      const rolePids = Object.fromEntries(procs.map((p, i) => [`ingest${i}`, p.proc.pid]));
      const redisPids = Object.fromEntries(topology.redisPids.map((pid, i) => [`redis${i}`, pid]));
      const load = await ingestLoad(port, { ...rolePids, ...redisPids }, INGEST_WARMUP_MS, INGEST_MS);
      const cores = (names: string[]): number | null => {
        const cpu = names.map((name) => load.cpuSeconds[name] ?? null);
        return cpu.includes(null) ? null : round((cpu as number[]).reduce((a, b) => a + b, 0) / load.seconds);
      };
      return { items: load.hits, seconds: load.seconds, complete: load.unanswered === 0, roleCpu: cores(Object.keys(rolePids)), redisCpu: cores(Object.keys(redisPids)) };
    }
    case 'detect': {
      const drained = async (): Promise<boolean> => (await backlog(redis, keys, 'hits', 'detect')) === 0;
      await appendAll(redis, hitEntries(keys, Math.ceil(HITS / 10), 100 + roundNo));
      await waitUntil(drained, until());
      const entries = hitEntries(keys, HITS, roundNo);
      return timed(procs, topology, HITS, async () => {
        await appendAll(redis, entries);
        return waitUntil(drained, until());
      });
    }
    case 'campaign': {
      const drained = async (): Promise<boolean> => (await backlog(redis, keys, 'fired', 'campaign')) === 0;
      await appendAll(redis, firedEntries(keys, Math.ceil(FIRED / 10), PROFILES, PRODUCTS, `w${tag}`));
      await waitUntil(drained, until());
      const base = await outboxLength(redis, keys);
      const entries = firedEntries(keys, FIRED, PROFILES, PRODUCTS, tag);
      return timed(procs, topology, FIRED, async () => {
        await appendAll(redis, entries);
        // The commit script acknowledges and appends to the outbox at once: drained means all in.
        return (await waitUntil(drained, until())) && (await outboxLength(redis, keys)) - base >= FIRED;
      });
    }
    case 'deliver': {
      env.sink.accepted = 0;
      const warm = Math.ceil(EMAILS / 10);
      await appendEmails(redis, keys, warm, `w${tag}`);
      await waitUntil(async () => env.sink.accepted >= warm, until());
      env.sink.accepted = 0;
      return timed(procs, topology, EMAILS, async () => {
        await appendEmails(redis, keys, EMAILS, tag);
        return waitUntil(async () => env.sink.accepted >= EMAILS, until());
      });
    }
  }
}

async function roleRows(env: Env, topology: Topology, role: Role): Promise<ResultRow[]> {
  const keys = new Keys(`so-${role}-${topology.name.slice(0, 4)}-${Date.now().toString(36)}`, PARTITIONS);
  env.say(`${topology.name}, ${role}: definitions`);
  // A long inactivity: no timer comes due while detect is measured.
  await defineShop(topology.redis, keys, '10m');
  if (role === 'campaign') await loadShopData(topology.redis, keys, parseConfig({}).campaign.indexedFields, PROFILES, PRODUCTS, (text) => env.say(`${topology.name}, ${role}: ${text}`), topology.raw);
  const config = writeConfig({ prefix: keys.prefix, partitions: PARTITIONS, redis: topology.target, smtpUrl: env.sink.url, ingestPort: role === 'ingest' ? await freePort() : 0 });
  const procs: RoleProcess[] = [];
  const rows: ResultRow[] = [];
  try {
    let one: Measured | undefined;
    for (const count of [1, 2]) {
      env.say(`${topology.name}, ${role}: starting process ${count}`);
      procs.push(...(await startRoles(config, [role])));
      env.say(`${topology.name}, ${role}: measuring with ${count} process${count > 1 ? 'es' : ''}`);
      const m = await measure(env, role, topology, keys, procs, count);
      one ??= m;
      const rate = m.items / m.seconds;
      rows.push({
        scenario: SCENARIO, case: `${role}, ${count} process${count > 1 ? 'es' : ''}, ${topology.name}`, role, redis: topology.name === 'cluster' ? '3-master cluster' : 'standalone',
        processes: count, items: m.items, unit: units[role], seconds: round(m.seconds), perSec: round(rate),
        scaleVs1: count === 1 ? null : round(rate / (one.items / one.seconds)), roleCpu: m.roleCpu, redisCpu: m.redisCpu, complete: m.complete, loadAverage: round(loadavg()[0] ?? NaN),
      });
    }
  } finally {
    for (const problem of await stopRoles(procs)) env.ctx.note(problem);
  }
  return rows;
}

export const scaleoutScenario: Scenario = {
  description: [
    'Each role as deployed (`rebound start --roles <role>`, production settings, 16 partitions) with one process, then with a second one',
    'started next to it (same configuration), on a standalone redis-server (AOF everysec) and on a 3-master Redis Cluster (AOF everysec each).',
    `Work per round, after a warm-up of a tenth of it: ingest — a closed-loop Segment \`/v1/batch\` load (32 connections, 100 messages per`,
    `request, ${INGEST_WARMUP_MS / 1000} s warm-up, ${INGEST_MS / 1000} s measured; both processes listen on one port, SO_REUSEPORT spreads the connections);`,
    `detect — ${fmt(HITS)} cart-add hits (100 per entry, 8,000 visitors) drained; campaign — ${fmt(FIRED)} trigger messages (userId of ${fmt(PROFILES)} profiles,`,
    `catalog enrichment, rendering) until all are in the outbox; deliver — ${fmt(EMAILS)} emails of about 1.5 KB until a local smtp-server sink accepted them.`,
    '`scaleVs1`: 2-process rate over the 1-process rate of the same role and Redis. `roleCpu`, `redisCpu`: cores busy in the measured part.',
    'On 2 cores the load generator, the sink and Redis share the cores with the role, so the ratio says how much',
    'a second process adds on this machine, not what it adds on a machine with a core per process.',
  ].join('\n'),
  columns: ['case', 'role', 'redis', 'processes', 'items', 'unit', 'seconds', 'perSec', 'scaleVs1', 'roleCpu', 'redisCpu', 'complete', 'loadAverage'],
  timeoutMs: 8 * 60_000,
  async run(ctx) {
    const started = Date.now();
    const sink = await startSmtpSink();
    const env: Env = { ctx, sink, say: (text) => ctx.progress(`[${SCENARIO} ${Math.round((Date.now() - started) / 1000)}s] ${text}`) };
    const rows: ResultRow[] = [];
    try {
      for (const open of [standalone, cluster]) {
        env.say(`starting ${open === standalone ? 'redis-server' : 'a 3-master cluster'}`);
        const topology = await open();
        try {
          for (const role of picked) rows.push(...(await roleRows(env, topology, role)));
        } finally {
          await topology.close();
        }
      }
    } finally {
      await sink.close();
    }
    for (const row of rows.filter((r) => r.scaleVs1 !== null)) {
      const scale = Number(row.scaleVs1);
      ctx.note(`${row.role} on ${row.redis}: 2 processes give ${scale}× one (target ≥ ${TARGET_SCALE} where cores allow): ${scale >= TARGET_SCALE ? 'met' : 'not met'}.`);
    }
    ctx.note(`The machine has ${cpus().length} cores for everything: the role's processes, Redis (1 or 3 servers), the load generator or sink, and whatever else runs (see the load average).`);
    return rows;
  },
};

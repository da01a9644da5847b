// Scenario "ingest": the ingest role as users run it (`rebound start --roles ingest`, its own
// process) on its own redis-server (AOF everysec), loaded over loopback by a separate load
// generator process: /v1/hits (JSON, MessagePack), Segment /v1/batch and /v1/track, WebSocket
// /v1/stream, and paced /v1/hits runs at 80 % of the measured maximum and (2 processes) of the target rate for the latency target.
// Baselines in the same run: redis-benchmark XADD of one hit's size, and a hand-written
// node:http + ioredis server doing one XADD per hit, loaded with the same requests. After every
// case the streams are read back: every acknowledged hit must be there.
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { encode } from '../../src/core/codec.js';
import { connectRedis, type RedisPort } from '../../src/core/redis/client.js';
import { Keys } from '../../src/core/redis/keys.js';
import { decodeHits } from '../../src/model/hit.js';
import { putSource } from '../../src/model/source-store.js';
import { startRedis, type RedisProcess } from '../../test/support/redis-server.js';
import { fmt, infoField, waitForAofIdle } from '../support/redis-info.js';
import { round, sleep, type ResultRow, type Scenario, type ScenarioContext } from '../support/harness.js';
import { HitFactory } from '../support/hits.js';
import { PARTITIONS, buildBodies, type BodyKind, type LoadResult, type LoadSpec } from '../support/ingest-load.js';
import { cpuProfileArgs, reboundNodeFlags, spawnTracked, type Tracked } from '../support/processes.js';
import { reapWithHarness } from '../support/reaper.js';
import { xaddBaseline, type XaddBaseline } from '../support/redis-benchmark.js';

const SCENARIO = 'ingest';
const WARMUP_MS = 2_000;
/** BENCH_INGEST_SECONDS: a shorter (or longer) measured window while iterating; 10 s by default. */
const DURATION_MS = Number(process.env.BENCH_INGEST_SECONDS ?? 10) * 1000;
const PACED_LOAD = 0.8;
const XADD_REQUESTS = 200_000;
const TARGET_NATIVE = 250_000;
const TARGET_SEGMENT = 100_000;
const TARGET_P99_MS = 50;
const WRITE_KEY = 'wk_bench_ingest_0123456789';
const SOURCE_ID = 'shop-web';
const START_TIMEOUT_MS = 30_000;
/** Entries per XRANGE while reading the streams back. */
const READBACK_COUNT = 200;

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const GENERATOR = fileURLToPath(new URL('../workers/load-generator.ts', import.meta.url));
const NAIVE = fileURLToPath(new URL('../workers/naive-ingest.ts', import.meta.url));
const GUARD = fileURLToPath(new URL('../workers/parent-guard.ts', import.meta.url));
const CLI = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));

interface CaseDef {
  id: string;
  label: string;
  server: 'rebound' | 'naive';
  transport: 'http' | 'ws';
  path: string;
  body: BodyKind;
  hitsPerRequest: number;
  connections: number;
  window: number;
  poolSize: number;
  ratePerSec?: number;
  /** What the paced rate is 80 % of (default: the measured maximum). */
  pacedOf?: string;
  /** Ingest processes sharing one port (SO_REUSEPORT), as on a 2-core box; 1 by default. */
  processes?: number;
}

const cases = {
  naive: { id: 'naive', label: 'baseline: node:http + ioredis, XADD per hit', server: 'naive', transport: 'http', path: '/v1/hits', body: 'hits-json', hitsPerRequest: 100, connections: 32, window: 1, poolSize: 64 },
  hitsJson: { id: 'hits-json', label: '/v1/hits JSON', server: 'rebound', transport: 'http', path: '/v1/hits', body: 'hits-json', hitsPerRequest: 100, connections: 32, window: 1, poolSize: 64 },
  hitsMsgpack: { id: 'hits-msgpack', label: '/v1/hits MessagePack', server: 'rebound', transport: 'http', path: '/v1/hits', body: 'hits-msgpack', hitsPerRequest: 100, connections: 32, window: 1, poolSize: 64 },
  batch: { id: 'segment-batch', label: 'Segment /v1/batch', server: 'rebound', transport: 'http', path: '/v1/batch', body: 'segment-batch', hitsPerRequest: 100, connections: 32, window: 1, poolSize: 64 },
  track: { id: 'segment-track', label: 'Segment /v1/track', server: 'rebound', transport: 'http', path: '/v1/track', body: 'segment-track', hitsPerRequest: 1, connections: 64, window: 1, poolSize: 2048 },
  stream: { id: 'stream', label: 'WebSocket /v1/stream (JSON frames)', server: 'rebound', transport: 'ws', path: '/v1/stream', body: 'stream-json', hitsPerRequest: 100, connections: 8, window: 8, poolSize: 64 },
  hitsJson2: { id: 'hits-json-2p', label: '/v1/hits JSON, 2 processes', server: 'rebound', transport: 'http', path: '/v1/hits', body: 'hits-json', hitsPerRequest: 100, connections: 32, window: 1, poolSize: 64, processes: 2 },
  hitsMsgpack2: { id: 'hits-msgpack-2p', label: '/v1/hits MessagePack, 2 processes', server: 'rebound', transport: 'http', path: '/v1/hits', body: 'hits-msgpack', hitsPerRequest: 100, connections: 32, window: 1, poolSize: 64, processes: 2 },
  batch2: { id: 'segment-batch-2p', label: 'Segment /v1/batch, 2 processes', server: 'rebound', transport: 'http', path: '/v1/batch', body: 'segment-batch', hitsPerRequest: 100, connections: 32, window: 1, poolSize: 64, processes: 2 },
} satisfies Record<string, CaseDef>;

interface Env {
  ctx: ScenarioContext;
  server: RedisProcess;
  redis: RedisPort;
  /** Server-wide commands the port does not offer (FLUSHALL, INFO fields). */
  admin: Redis;
  started: number;
  dataDir: string;
}

interface Measured {
  def: CaseDef;
  load: LoadResult;
  streamHits: number;
  /** Stream entries they came in: the writer appends one entry per partition per flush. */
  streamEntries: number;
  aofRewrites: number;
  /** Times Redis held writes back because the previous fsync had not finished (a busy disk stalls ingest). */
  aofDelayedFsync: number;
  loadAverage: number;
}


function say(env: Env, text: string): void {
  env.ctx.progress(`[${SCENARIO} ${Math.round((Date.now() - env.started) / 1000)}s] ${text}`);
}


/** Fresh data for each case: FLUSHALL bounds memory and the AOF, the new prefix isolates the keys. */
async function freshKeys(env: Env, caseId: string): Promise<Keys> {
  await env.admin.call('FLUSHALL', 'SYNC');
  await waitForAofIdle(env.admin, (text) => say(env, text));
  return new Keys(`bi-${caseId}-${Date.now().toString(36)}`, PARTITIONS);
}

/** A port free now on loopback, for processes that must all listen on the same one. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      probe.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

/** `rebound start --roles ingest`, unchanged, in its own process; resolves with its port (`port` 0 = a free one). */
async function startIngest(env: Env, keys: Keys, caseId: string, port = 0): Promise<{ proc: Tracked; port: number }> {
  // BENCH_INGEST_NODE_ARGS: extra node options for the ingest processes while investigating (e.g. --trace-gc).
  const extra = (process.env.BENCH_INGEST_NODE_ARGS ?? '').split(' ').filter((arg) => arg !== '');
  const proc = spawnTracked(process.execPath, [...cpuProfileArgs(caseId), ...reboundNodeFlags, ...extra, '--import', 'tsx', '--import', GUARD, CLI, 'start', '--roles', 'ingest'], {
    cwd: REPO,
    env: {
      ...process.env,
      REBOUND_REDIS_URL: env.server.url,
      REBOUND_PREFIX: keys.prefix,
      REBOUND_DATA_DIR: env.dataDir,
      REBOUND_INGEST_HOST: '127.0.0.1',
      REBOUND_INGEST_PORT: String(port),
      REBOUND_METRICS_HOST: '127.0.0.1',
      REBOUND_METRICS_PORT: '0',
      REBOUND_LOG_LEVEL: 'info',
    },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  await proc.waitFor('"msg":"ingest listening"', START_TIMEOUT_MS);
  const line = proc.output().split('\n').find((l) => l.includes('"msg":"ingest listening"')) ?? '';
  const listening = (JSON.parse(line) as { port?: number }).port;
  if (typeof listening !== 'number') throw new Error(`no port in the ingest's log line: ${line}`);
  return { proc, port: listening };
}

/** `def.processes` ingest processes on one port (SO_REUSEPORT: the kernel spreads the connections). */
async function startIngests(env: Env, keys: Keys, def: CaseDef): Promise<{ procs: Tracked[]; port: number }> {
  const count = def.processes ?? 1;
  if (count === 1) {
    const { proc, port } = await startIngest(env, keys, def.id);
    return { procs: [proc], port };
  }
  const port = await freePort();
  const procs: Tracked[] = [];
  try {
    for (let i = 0; i < count; i++) procs.push((await startIngest(env, keys, def.id, port)).proc);
  } catch (err) {
    for (const proc of procs) await proc.stop();
    throw err;
  }
  return { procs, port };
}

async function startNaive(env: Env, stream: string): Promise<{ proc: Tracked; port: number }> {
  const proc = spawnTracked(process.execPath, [...cpuProfileArgs('naive'), '--import', 'tsx', NAIVE], {
    cwd: REPO,
    env: { ...process.env, BENCH_REDIS_URL: env.server.url, BENCH_STREAM: stream, BENCH_WRITE_KEY: WRITE_KEY },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  await proc.waitFor('listening ', START_TIMEOUT_MS);
  const port = Number(/listening (\d+)/.exec(proc.output())?.[1]);
  if (!port) throw new Error(`naive server printed no port:\n${proc.output()}`);
  return { proc, port };
}

/** Runs the load generator to its end, relaying its progress; returns its result line. */
async function generate(env: Env, def: CaseDef, port: number, pids: Record<string, number>): Promise<LoadResult> {
  const spec: LoadSpec = {
    host: '127.0.0.1',
    port,
    transport: def.transport,
    path: def.path,
    body: def.body,
    hitsPerRequest: def.hitsPerRequest,
    writeKey: WRITE_KEY,
    connections: def.connections,
    window: def.window,
    poolSize: def.poolSize,
    warmupMs: WARMUP_MS,
    durationMs: DURATION_MS,
    pids,
    ...(def.ratePerSec === undefined ? {} : { ratePerSec: def.ratePerSec }),
  };
  const gen = spawnTracked(process.execPath, ['--import', 'tsx', GENERATOR], { cwd: REPO, env: { ...process.env, BENCH_LOAD: JSON.stringify(spec) }, stdio: ['pipe', 'pipe', 'pipe'] });
  let code: number | null | undefined;
  void gen.exited.then((c) => (code = c));
  const deadline = Date.now() + WARMUP_MS + DURATION_MS + 60_000;
  while (code === undefined) {
    if (Date.now() > deadline) {
      await gen.stop(1000);
      throw new Error(`${def.label}: the load generator did not finish:\n${gen.output().slice(-2000)}`);
    }
    const last = gen.output().trimEnd().split('\n').filter((l) => l.startsWith('progress ')).pop();
    if (last) say(env, `${def.label}: ${last.slice('progress '.length)}`);
    await sleep(250);
  }
  const line = gen.output().split('\n').find((l) => l.startsWith('result '));
  if (code !== 0 || !line) throw new Error(`${def.label}: the load generator exited with ${code}:\n${gen.output().slice(-2000)}`);
  return JSON.parse(line.slice('result '.length)) as LoadResult;
}

/** Hits and entries in the streams of `keys`, the hits counted by decoding every entry. */
async function countStreamHits(env: Env, keys: Keys, label: string): Promise<{ hits: number; entries: number }> {
  let total = 0;
  let count = 0;
  for (const p of keys.allPartitions()) {
    const stream = keys.stream(p, 'hits');
    let start = '-';
    for (;;) {
      const entries = await env.redis.xrange(stream, start, '+', READBACK_COUNT);
      for (const entry of entries) total += entry.data ? decodeHits(entry.data).length : 0;
      count += entries.length;
      if (entries.length < READBACK_COUNT) break;
      start = `(${(entries[entries.length - 1] as { id: string }).id}`;
    }
    say(env, `${label}: reading the streams back, partition ${p + 1}/${keys.partitions}, ${fmt(total)} hits`);
  }
  return { hits: total, entries: count };
}

async function aofCounters(env: Env): Promise<{ rewrites: number; delayedFsync: number }> {
  const info = await env.admin.info('persistence');
  return { rewrites: infoField(info, 'aof_rewrites'), delayedFsync: infoField(info, 'aof_delayed_fsync') };
}

async function stopServer(env: Env, def: CaseDef, proc: Tracked): Promise<void> {
  const code = await proc.stop();
  // BENCH_INGEST_LOG=<dir>: the server's output (its log, and whatever BENCH_INGEST_NODE_ARGS made it print).
  if (process.env.BENCH_INGEST_LOG) writeFileSync(join(process.env.BENCH_INGEST_LOG, `${def.id}-${proc.pid}.log`), proc.output());
  if (code !== 0) env.ctx.note(`${def.label}: the server (pid ${proc.pid}) exited with ${code}: ${proc.output().trim().split('\n').slice(-3).join(' / ')}`);
}

async function runCase(env: Env, def: CaseDef): Promise<Measured> {
  say(env, `${def.label}: starting`);
  const keys = await freshKeys(env, def.id);
  let server: { procs: Tracked[]; port: number };
  const naiveStream = `${keys.prefix}:naive:hits`;
  if (def.server === 'rebound') {
    await putSource(env.redis, keys, { kind: 'Source', id: SOURCE_ID, name: 'Shop (bench)', writeKeys: [WRITE_KEY] });
    server = await startIngests(env, keys, def);
  } else {
    const naive = await startNaive(env, naiveStream);
    server = { procs: [naive.proc], port: naive.port };
  }
  let load: LoadResult;
  const aofBefore = await aofCounters(env);
  // The server processes are named ingest, ingest2, …: serverCpu adds them up.
  const pids: Record<string, number> = { redis: env.server.pid };
  server.procs.forEach((proc, i) => (pids[i === 0 ? 'ingest' : `ingest${i + 1}`] = proc.pid));
  try {
    load = await generate(env, def, server.port, pids);
  } finally {
    // Stopped before the read-back (and so that a CPU profile is written): every acked hit is in Redis already.
    for (const proc of server.procs) await stopServer(env, def, proc);
  }
  const aofAfter = await aofCounters(env);
  const average = loadavg()[0] ?? NaN;
  const naiveEntries = def.server === 'naive' ? await env.redis.xlen(naiveStream) : 0;
  const { hits: streamHits, entries: streamEntries } = def.server === 'rebound' ? await countStreamHits(env, keys, def.label) : { hits: naiveEntries, entries: naiveEntries };
  if (streamHits < load.ackedHits) env.ctx.note(`${def.label}: ${fmt(load.ackedHits - streamHits)} acknowledged hits are missing from the streams`);
  if (streamHits > load.ackedHits) env.ctx.note(`${def.label}: ${fmt(streamHits - load.ackedHits)} hits were written but not acknowledged (requests that failed or were still unanswered)`);
  return { def, load, streamHits, streamEntries, aofRewrites: aofAfter.rewrites - aofBefore.rewrites, aofDelayedFsync: aofAfter.delayedFsync - aofBefore.delayedFsync, loadAverage: average };
}

/** CPU seconds of all the server processes (ingest, ingest2, …); null when any is unknown. */
function serverCpuSeconds(load: LoadResult): number | null {
  let total = 0;
  for (const [name, cpu] of Object.entries(load.cpuSeconds)) {
    if (!/^ingest\d*$/.test(name)) continue;
    if (cpu === null) return null;
    total += cpu;
  }
  return total;
}

const per100k = (cpu: number | null | undefined, hits: number): number | null => (cpu === null || cpu === undefined || hits === 0 ? null : round((cpu / hits) * 100_000));
const cores = (cpu: number | null | undefined, seconds: number): number | null => (cpu === null || cpu === undefined ? null : round(cpu / seconds));

function caseRow(m: Measured, naiveHitsPerSec: number | undefined, xadd: XaddBaseline | undefined): ResultRow {
  const { load, def } = m;
  const hitsPerSec = load.hits / load.seconds;
  const errorCount = Object.values(load.errors).reduce((a, b) => a + b, 0);
  return {
    scenario: SCENARIO,
    case: def.ratePerSec === undefined ? def.label : `${def.label} at ${PACED_LOAD * 100} % of ${def.pacedOf ?? 'the max'} (${fmt(def.ratePerSec)} requests/s)`,
    server: def.server === 'naive' ? 'naive' : (def.processes ?? 1) > 1 ? `rebound ingest ×${def.processes}` : 'rebound ingest',
    hitsPerRequest: def.hitsPerRequest,
    connections: def.connections,
    inFlightPerConnection: def.window,
    requests: load.requests,
    seconds: round(load.seconds),
    requestsPerSec: round(load.requests / load.seconds),
    hitsPerSec: round(hitsPerSec),
    ratioToNaive: naiveHitsPerSec === undefined ? null : round(hitsPerSec / naiveHitsPerSec),
    ratioToXadd: xadd === undefined ? null : round(hitsPerSec / xadd.requestsPerSec),
    latencyP50Ms: round(load.latencyP50Ms),
    latencyP99Ms: round(load.latencyP99Ms),
    latencyMaxMs: round(load.latencyMaxMs),
    serverCpu: cores(serverCpuSeconds(load), load.seconds),
    serverCpuSecPer100kHits: per100k(serverCpuSeconds(load), load.hits),
    redisCpu: cores(load.cpuSeconds.redis, load.seconds),
    redisCpuSecPer100kHits: per100k(load.cpuSeconds.redis, load.hits),
    generatorCpu: cores(load.cpuSeconds.generator, load.seconds),
    errors: errorCount === 0 ? 0 : Object.entries(load.errors).map(([k, v]) => `${k}×${v}`).join(' '),
    ackedHits: load.ackedHits,
    streamHits: m.streamHits,
    hitsPerEntry: m.streamEntries === 0 ? null : round(m.streamHits / m.streamEntries),
    complete: m.streamHits >= load.ackedHits && load.unanswered === 0,
    aofRewrites: m.aofRewrites,
    aofDelayedFsync: m.aofDelayedFsync,
    loadAverage: round(m.loadAverage),
    ...(load.skipped > 0 ? { skipped: load.skipped } : {}),
  };
}

function xaddRow(b: XaddBaseline, naiveHitsPerSec: number): ResultRow {
  return {
    scenario: SCENARIO,
    case: 'baseline: redis-benchmark XADD, one hit per entry',
    server: 'redis-benchmark',
    hitsPerRequest: 1,
    connections: 16,
    inFlightPerConnection: 16,
    requests: b.requests,
    seconds: round(b.requests / b.requestsPerSec),
    requestsPerSec: round(b.requestsPerSec),
    hitsPerSec: round(b.requestsPerSec),
    ratioToNaive: round(b.requestsPerSec / naiveHitsPerSec),
    ratioToXadd: 1,
    latencyP50Ms: round(b.p50Ms),
    latencyP99Ms: round(b.p99Ms),
  };
}

/** The size of one hit as ingest stores it (msgpack, with receivedAt), for the XADD baseline. */
function oneHitBytes(): number {
  const hit = new HitFactory(new Keys('gen', PARTITIONS), 10, 7).hit(0, Date.UTC(2025, 0, 15, 12));
  return encode({ ...hit, receivedAt: Date.now() }).length;
}

async function baseline(env: Env, bytes: number): Promise<XaddBaseline> {
  say(env, `redis-benchmark: ${fmt(XADD_REQUESTS)} XADD of ${bytes} B`);
  await env.admin.call('FLUSHALL', 'SYNC');
  await waitForAofIdle(env.admin, (text) => say(env, text));
  const result = await xaddBaseline(env.server.port, 'bench:xadd', bytes, XADD_REQUESTS);
  await env.admin.call('FLUSHALL', 'SYNC');
  return result;
}

function verdict(value: number, target: number, higherIsBetter: boolean): string {
  const met = higherIsBetter ? value >= target : value <= target;
  return met ? 'met' : `missed (${round(value / target)} of it)`;
}

/** Mean request body sizes of each case, for the notes. */
function bodySizes(): string {
  const mean = (def: CaseDef): string => {
    const bodies = buildBodies(def.body, def.hitsPerRequest, 8);
    const bytes = bodies.reduce((sum, b) => sum + b.bytes.length, 0) / bodies.length;
    return `${def.label} ${bytes >= 10_000 ? `${round(bytes / 1024)} KB` : `${Math.round(bytes)} B`}`;
  };
  return [cases.hitsJson, cases.hitsMsgpack, cases.batch, cases.track, cases.stream].map((def) => mean(def)).join(', ');
}

/**
 * BENCH_INGEST_CASES=<id,…> (ids of `cases`, e.g. hits-json,segment-batch; `<id>:<n>` paces the
 * case at n requests/s): only those cases, without baselines or target notes, for profiling and
 * iterating; the default runs everything.
 */
async function runSome(env: Env, ids: readonly string[]): Promise<ResultRow[]> {
  const all: CaseDef[] = Object.values(cases);
  const rows: ResultRow[] = [];
  for (const item of ids) {
    const [id, rate] = item.split(':');
    const def = all.find((c) => c.id === id);
    if (!def) throw new Error(`BENCH_INGEST_CASES: unknown case ${id}; known: ${all.map((c) => c.id).join(', ')}`);
    const measured = await runCase(env, rate === undefined ? def : { ...def, id: `${def.id}-paced`, label: `${def.label}, paced`, ratePerSec: Number(rate) });
    rows.push(caseRow(measured, undefined, undefined));
    latencyPartsNote(env, measured);
  }
  env.ctx.note(`Partial run (BENCH_INGEST_CASES=${ids.join(',')}, ${DURATION_MS / 1000} s per case): no baselines, no targets.`);
  return rows;
}

/** Where a paced case's long requests spent their time (the generator's p99 of each part of the latency). */
function latencyPartsNote(env: Env, m: Measured): void {
  const parts = m.load.partsP99Ms;
  if (m.def.ratePerSec === undefined || parts === undefined) return;
  env.ctx.note(
    `${m.def.label} at ${PACED_LOAD * 100} % of ${m.def.pacedOf ?? 'the max'}: p99 of each part of a request's latency: ${round(parts.late)} ms due but not yet issued (the generator's own scheduling), ` +
      `${round(parts.queued)} ms waiting for a free connection (the servers answered slower than requests came), ${round(parts.onConnection)} ms on the connection (server, kernel, Redis).`,
  );
}

/** The paced (open-loop) run of `def` at 80 % of the maximum `max` measured just before. */
function pacedDef(def: CaseDef, max: Measured, id: string): CaseDef {
  return { ...def, id, label: `${def.label}, paced`, ratePerSec: Math.max(1, Math.round((max.load.requests / max.load.seconds) * PACED_LOAD)) };
}

async function runAll(env: Env): Promise<ResultRow[]> {
  const only = (process.env.BENCH_INGEST_CASES ?? '').split(',').map((id) => id.trim()).filter((id) => id !== '');
  if (only.length > 0) return runSome(env, only);
  const hitBytes = oneHitBytes();
  env.ctx.note(`Request bodies (mean): ${bodySizes()} (frame without its seq wrapper); one hit is ${hitBytes} B in MessagePack as stored.`);
  const firstXadd = await baseline(env, hitBytes);
  const naive = await runCase(env, cases.naive);
  // The paced run follows the maximum it is derived from, so that both see the same machine.
  const json = await runCase(env, cases.hitsJson);
  const paced = await runCase(env, pacedDef(cases.hitsJson, json, 'paced'));
  const measured: Measured[] = [json, paced];
  for (const def of [cases.hitsMsgpack, cases.batch, cases.track, cases.stream] as CaseDef[]) measured.push(await runCase(env, def));
  // The same on 2 ingest processes sharing the port, as a 2-core box would run them.
  const json2 = await runCase(env, cases.hitsJson2);
  const paced2 = await runCase(env, pacedDef(cases.hitsJson2, json2, 'paced-2p'));
  // SPEC §11 asks for the p99 at 80 % of the target rate; 80 % of the maximum is more when the maximum is above the target.
  const pacedTarget = Math.round((TARGET_NATIVE * PACED_LOAD) / cases.hitsJson2.hitsPerRequest);
  const pacedAtTarget = await runCase(env, { ...cases.hitsJson2, id: 'paced-target-2p', label: `${cases.hitsJson2.label}, paced`, ratePerSec: pacedTarget, pacedOf: `the ${fmt(TARGET_NATIVE)} hits/s target` });
  const msgpack2 = await runCase(env, cases.hitsMsgpack2);
  const batch2 = await runCase(env, cases.batch2);
  const twoProcesses = [json2, paced2, pacedAtTarget, msgpack2, batch2];
  const lastXadd = await baseline(env, hitBytes);
  const xadd: XaddBaseline = {
    ...firstXadd,
    requestsPerSec: (firstXadd.requestsPerSec + lastXadd.requestsPerSec) / 2,
    p50Ms: (firstXadd.p50Ms + lastXadd.p50Ms) / 2,
    p99Ms: (firstXadd.p99Ms + lastXadd.p99Ms) / 2,
  };
  env.ctx.note(`XADD baseline: \`${firstXadd.args}\` before and after the cases (${fmt(firstXadd.requestsPerSec)} then ${fmt(lastXadd.requestsPerSec)} requests/s); the row shows their mean.`);

  const naiveHitsPerSec = naive.load.hits / naive.load.seconds;
  const rows = [xaddRow(xadd, naiveHitsPerSec), caseRow(naive, naiveHitsPerSec, xadd), ...[...measured, ...twoProcesses].map((m) => caseRow(m, naiveHitsPerSec, xadd))];

  const rate = (m: Measured): number => m.load.hits / m.load.seconds;
  for (const m of [json, measured[2] as Measured, json2, msgpack2]) env.ctx.note(`Target ≥ ${fmt(TARGET_NATIVE)} hits/s through /v1/hits: ${m.def.label} ${fmt(rate(m))} hits/s, ${verdict(rate(m), TARGET_NATIVE, true)}.`);
  for (const batch of [measured[3] as Measured, batch2]) env.ctx.note(`Target ≥ ${fmt(TARGET_SEGMENT)} hits/s through Segment /v1/batch (batches of 100): ${batch.def.label} ${fmt(rate(batch))} hits/s, ${verdict(rate(batch), TARGET_SEGMENT, true)}.`);
  for (const m of [paced, paced2, pacedAtTarget]) {
    const pacedRate = rate(m);
    const belowTarget = pacedRate < PACED_LOAD * TARGET_NATIVE ? ` (that load, ${fmt(pacedRate)} hits/s, is below 80 % of the ${fmt(TARGET_NATIVE)} hits/s target since the maximum missed it)` : '';
    const skipped = m.load.skipped > 0 ? `, and ${fmt(m.load.skipped)} requests due were never sent (the generator's queue was full): missed` : '';
    env.ctx.note(`Target p99 ≤ ${TARGET_P99_MS} ms at ${PACED_LOAD * 100} % load: ${m.def.label} at ${PACED_LOAD * 100} % of ${m.def.pacedOf ?? 'the max'}: p99 ${round(m.load.latencyP99Ms)} ms at ${fmt(pacedRate)} hits/s (${fmt(m.def.ratePerSec ?? 0)} requests/s asked), ${verdict(m.load.latencyP99Ms, TARGET_P99_MS, false)}${skipped}${belowTarget}.`);
    latencyPartsNote(env, m);
  }
  const perHit = (m: Measured): number => (serverCpuSeconds(m.load) ?? NaN) / m.load.hits;
  const pairs: Array<[Measured, Measured]> = [[json, json2], [measured[2] as Measured, msgpack2], [measured[3] as Measured, batch2]];
  const scaling = pairs.map(([one, two]) => `${one.def.label} ${fmt(rate(two))} hits/s = ${round(rate(two) / rate(one))}× (CPU per hit ${round(perHit(two) / perHit(one))}×)`);
  env.ctx.note(`Two processes vs one: ${scaling.join('; ')}.`);
  const perEntry = (m: Measured): number => m.streamHits / Math.max(1, m.streamEntries);
  env.ctx.note(`Paced vs maximum: the writer's entries carry ${round(perEntry(paced))} hits (vs ${round(perEntry(json))} at the maximum) and the server spends ${round(perHit(paced) / perHit(json))}× the CPU per hit, so 80 % of the maximum rate needs more than 80 % of its CPU.`);
  const complete = [naive, ...measured, ...twoProcesses].every((m) => m.streamHits >= m.load.ackedHits && m.load.unanswered === 0);
  env.ctx.note(complete ? 'Every acknowledged hit was read back from the streams in every case.' : 'Some acknowledged hits were NOT found in the streams: see `complete`.');
  return rows;
}

export const ingestScenario: Scenario = {
  description: [
    'The ingest role as deployed (`rebound start --roles ingest`: one process, production settings of `config/rebound.yaml`)',
    'on its own redis-server (`appendonly yes`, `appendfsync everysec`), loaded over loopback by a separate',
    'load-generator process (`bench/workers/load-generator.ts`: keep-alive HTTP/1.1 connections on raw sockets with one',
    'prebuilt request in flight per connection, or `ws` sockets with a window of frames in flight; the raw client spends',
    'a fraction of the CPU node:http did, which on 2 cores went to the server). Each case: FLUSHALL, a fresh key prefix and a',
    `fresh ingest process, ${WARMUP_MS / 1000} s of warm-up, then ${DURATION_MS / 1000} s measured. Hits are cart adds from visitors of every partition.`,
    'Latencies are request round trips seen by the generator; in the paced run (open loop) they count from the moment',
    'each request was due, so a queue in front of the server shows. `serverCpu`, `redisCpu`, `generatorCpu`: cores busy',
    'in the measured window (/proc); `…SecPer100kHits`: CPU seconds per 100,000 hits. Baselines: redis-benchmark XADD',
    "of one hit's msgpack size on the same server (16 clients, pipeline 16), and `bench/workers/naive-ingest.ts`",
    '(node:http + ioredis, one XADD per hit, answer once all resolve) loaded with the same 100-hit requests;',
    '`ratioToNaive` and `ratioToXadd` are hits/s over theirs. `ackedHits` (whole run, warm-up included) must all be in',
    '`streamHits` (every entry read back and decoded): `complete`; `hitsPerEntry`: hits per stream entry (the writer',
    'appends one entry per partition per flush, 16 partitions). `aofRewrites` (a fork each) and `aofDelayedFsync`',
    '(writes held back by a slow disk) happened during the case. On 2 cores the generator competes with the server:',
    'for single-message `/v1/track` it still burns about a third of what the server does, so that row is a lower bound.',
    '`loadAverage`: the 1-minute load at the end of the case; the case itself accounts for about 2 of it.',
    'Cases "…, 2 processes": two ingest processes listening on one port (SO_REUSEPORT, the kernel spreads the 32',
    'connections between them), as one would deploy ingest on a 2-core box; `serverCpu` adds both up.',
  ].join('\n'),
  columns: ['case', 'server', 'hitsPerRequest', 'connections', 'inFlightPerConnection', 'requests', 'seconds', 'requestsPerSec', 'hitsPerSec', 'ratioToNaive', 'ratioToXadd', 'latencyP50Ms', 'latencyP99Ms', 'latencyMaxMs', 'serverCpu', 'serverCpuSecPer100kHits', 'redisCpu', 'redisCpuSecPer100kHits', 'generatorCpu', 'errors', 'ackedHits', 'streamHits', 'hitsPerEntry', 'complete', 'aofRewrites', 'aofDelayedFsync', 'loadAverage'],
  timeoutMs: 10 * 60_000,
  async run(ctx) {
    const started = Date.now();
    ctx.progress(`[${SCENARIO}] starting redis-server`);
    const server = await startRedis({ appendonly: true });
    const reaper = reapWithHarness(server.pid, server.dir);
    // Inside the server's temp dir, removed with it even when the run is interrupted (ingest writes nothing there).
    const dataDir = join(server.dir, 'rebound-data');
    let redis: RedisPort | undefined;
    let admin: Redis | undefined;
    try {
      redis = await connectRedis({ url: server.url }, { connectTimeoutMs: 10_000, name: 'bench' });
      admin = new Redis(server.url, { connectionName: 'bench-admin', maxRetriesPerRequest: 1 });
      return await runAll({ ctx, server, redis, admin, started, dataDir });
    } finally {
      await redis?.close();
      admin?.disconnect();
      await server.stop();
      await reaper.stop(1000);
    }
  },
};

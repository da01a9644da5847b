// Scenario "runtime": the cost of the stage runtime itself. One hop (in → out, the value passed
// on) drains a preloaded backlog on its own redis-server (AOF everysec, as in production), with
// 1 and 2 worker processes, for entries carrying 100 hits and single hits; then one paced run
// for the in → out latency. Baseline in the same run: redis-benchmark XADD of an entry's size.
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { decode } from '../../src/core/codec.js';
import { connectRedis, type RedisPort } from '../../src/core/redis/client.js';
import { Keys } from '../../src/core/redis/keys.js';
import { startRedis, type RedisProcess } from '../../test/support/redis-server.js';
import { fmt, infoField, waitForAofIdle } from '../support/redis-info.js';
import { round, sleep, type ResultRow, type Scenario, type ScenarioContext } from '../support/harness.js';
import { HitFactory } from '../support/hits.js';
import { cpuProfileArgs, cpuSeconds, spawnTracked, type Tracked } from '../support/processes.js';
import { xaddBaseline, type XaddBaseline } from '../support/redis-benchmark.js';

const SCENARIO = 'runtime';
const PARTITIONS = 16;
const BATCHED_HITS = 100;
const BATCHED_ENTRIES = 20_000;
const SINGLE_ENTRIES = 100_000;
/** Bytes redis-benchmark appends per baseline, so that the large-payload baseline stays bounded. */
const BASELINE_BYTES = 400e6;
const BASELINE_MAX_REQUESTS = 200_000;
const CASE_TIMEOUT_MS = 90_000;
const PACED_SECONDS = 5;
/** The paced run's rate, as a share of the 1-worker throughput just measured. */
const PACED_LOAD = 0.5;
/** Light paced runs (single-hit entries per second), with the default linger and with none. */
const LIGHT_RATES = [400, 2_000];
const POLL_MS = 20;
/** Bytes per preload round trip: big enough to pipeline well, small enough to stay smooth. */
const PRELOAD_CHUNK_BYTES = 4e6;
const TARGET_HITS_PER_SEC = 500_000;

const WORKER = fileURLToPath(new URL('../workers/hop-worker.ts', import.meta.url));
const REPO = fileURLToPath(new URL('../..', import.meta.url));

interface Env {
  ctx: ScenarioContext;
  server: RedisProcess;
  redis: RedisPort;
  /** Server-wide commands the port does not offer (FLUSHALL, INFO fields). */
  admin: Redis;
  started: number;
}

interface Payloads {
  hitsPerEntry: number;
  entries: Buffer[];
  avgBytes: number;
}

interface Drained {
  done: number;
  seconds: number;
  complete: boolean;
  redisCpu: number;
  workersCpu: number | null;
  redisMemMB: number;
  aofRewrites: number;
  /** Cores used by Redis' forked children (the AOF rewrite), on top of redisCpu. */
  redisForkCpu: number;
  /** Times Redis held writes back because the previous fsync had not finished (a busy disk). */
  aofDelayedFsync: number;
  /** The machine's 1-minute load average at the end of the drain (other work on a shared machine shows here). */
  loadAverage: number;
}



interface RedisCounters {
  cpu: number;
  forkCpu: number;
  aofRewrites: number;
  aofDelayedFsync: number;
}

async function redisCounters(admin: Redis): Promise<RedisCounters> {
  const info = (await admin.info('cpu')) + (await admin.info('persistence'));
  return {
    cpu: infoField(info, 'used_cpu_sys') + infoField(info, 'used_cpu_user'),
    forkCpu: infoField(info, 'used_cpu_sys_children') + infoField(info, 'used_cpu_user_children'),
    aofRewrites: infoField(info, 'aof_rewrites'),
    aofDelayedFsync: infoField(info, 'aof_delayed_fsync'),
  };
}

function say(env: Env, text: string): void {
  env.ctx.progress(`[${SCENARIO} ${Math.round((Date.now() - env.started) / 1000)}s] ${text}`);
}

/** Fresh data for each case: FLUSHALL bounds memory and the AOF, the new prefix isolates the keys. */
async function freshKeys(env: Env, caseId: string): Promise<Keys> {
  await env.admin.call('FLUSHALL', 'SYNC');
  return new Keys(`bench-${caseId}-${Date.now().toString(36)}`, PARTITIONS);
}

function startWorkers(env: Env, keys: Keys, count: number, caseId: string, mode: HopMode, extraEnv: Record<string, string> = {}): Tracked[] {
  const nodeArgs = cpuProfileArgs(caseId);
  return Array.from({ length: count }, () =>
    spawnTracked(process.execPath, [...nodeArgs, '--import', 'tsx', WORKER], {
      cwd: REPO,
      env: { ...process.env, BENCH_PREFIX: keys.prefix, BENCH_REDIS_URL: env.server.url, BENCH_PARTITIONS: String(PARTITIONS), BENCH_HOP_MODE: mode, ...extraEnv },
      stdio: ['pipe', 'pipe', 'pipe'],
    }),
  );
}

/** Stops the workers by their pids; a worker that did not drain cleanly is reported, not hidden. */
async function stopWorkers(env: Env, workers: readonly Tracked[]): Promise<void> {
  const codes = await Promise.all(workers.map((w) => w.stop()));
  codes.forEach((code, i) => {
    if (code !== 0) env.ctx.note(`worker pid ${workers[i]?.pid} exited with ${code}: ${workers[i]?.output().trim().split('\n').slice(-3).join(' / ')}`);
  });
}

async function preload(env: Env, keys: Keys, payloads: Payloads, label: string): Promise<void> {
  const { entries } = payloads;
  const perChunk = Math.max(1, Math.floor(PRELOAD_CHUNK_BYTES / payloads.avgBytes));
  for (let i = 0; i < entries.length; i += perChunk) {
    const chunk = entries.slice(i, i + perChunk).map((data, j) => ({ key: keys.stream((i + j) % PARTITIONS, 'in'), data }));
    await env.redis.xaddMany(chunk);
    say(env, `${label}: preloading ${fmt(Math.min(i + perChunk, entries.length))}/${fmt(entries.length)} entries`);
  }
}

async function outCount(env: Env, keys: Keys): Promise<number> {
  const lengths = await Promise.all(keys.allPartitions().map((p) => env.redis.xlen(keys.stream(p, 'out'))));
  return lengths.reduce((a, b) => a + b, 0);
}

/** Preloads the backlog, starts the workers on it and times until every output is in `out`. */
/** `recode`: the stage decodes and re-encodes every entry; `forward`: it outputs the entry's bytes. */
type HopMode = 'recode' | 'forward';

async function drain(env: Env, caseId: string, label: string, payloads: Payloads, workerCount: number, mode: HopMode = 'recode'): Promise<Drained> {
  const keys = await freshKeys(env, caseId);
  const workers = startWorkers(env, keys, workerCount, caseId, mode);
  try {
    await preload(env, keys, payloads, label);
    await Promise.all(workers.map((w) => w.waitFor('ready', 30_000)));
    await waitForAofIdle(env.admin, (text) => say(env, text));
    const total = payloads.entries.length;
    const before = await redisCounters(env.admin);
    const workerCpuBefore = workers.map((w) => cpuSeconds(w.pid));
    const t0 = performance.now();
    for (const w of workers) w.child.stdin?.write('go\n');
    const deadline = Math.min(Date.now() + CASE_TIMEOUT_MS, env.ctx.deadline - 30_000);
    let done = 0;
    while (done < total && Date.now() < deadline) {
      await sleep(POLL_MS);
      const dead = workers.find((w) => w.child.exitCode !== null || w.child.signalCode !== null);
      if (dead) throw new Error(`${label}: worker pid ${dead.pid} ended during the run:\n${dead.output().slice(-2000)}`);
      done = await outCount(env, keys);
      say(env, `${label}: ${fmt(done)}/${fmt(total)} entries out (${Math.floor((100 * done) / total)}%)`);
    }
    const seconds = (performance.now() - t0) / 1000;
    const workerCpuAfter = workers.map((w) => cpuSeconds(w.pid));
    const after = await redisCounters(env.admin);
    const memory = infoField(await env.admin.info('memory'), 'used_memory');
    let workersCpu: number | null = 0;
    workerCpuAfter.forEach((after, i) => {
      const before = workerCpuBefore[i];
      workersCpu = after === null || before === null || before === undefined || workersCpu === null ? null : workersCpu + (after - before);
    });
    if (done > total) env.ctx.note(`${label}: ${fmt(done - total)} entries were output twice`);
    return {
      done,
      seconds,
      complete: done >= total,
      redisCpu: (after.cpu - before.cpu) / seconds,
      redisForkCpu: (after.forkCpu - before.forkCpu) / seconds,
      workersCpu: workersCpu === null ? null : (workersCpu as number) / seconds,
      redisMemMB: memory / 2 ** 20,
      aofRewrites: after.aofRewrites - before.aofRewrites,
      aofDelayedFsync: after.aofDelayedFsync - before.aofDelayedFsync,
      loadAverage: loadavg()[0] ?? NaN,
    };
  } finally {
    say(env, `${label}: stopping workers`);
    await stopWorkers(env, workers);
  }
}

function baselineRow(b: XaddBaseline, hitsPerEntry: number): ResultRow {
  return {
    scenario: SCENARIO,
    case: `redis-benchmark XADD, ${hitsPerEntry === 1 ? '1-hit' : `${hitsPerEntry}-hit`} payload`,
    workers: null,
    hitsPerEntry,
    entryBytes: b.payloadBytes,
    entries: b.requests,
    seconds: round(b.requests / b.requestsPerSec),
    entriesPerSec: round(b.requestsPerSec),
    hitsPerSec: round(b.requestsPerSec * hitsPerEntry),
    ratioToXadd: 1,
    latencyP50Ms: round(b.p50Ms),
    latencyP99Ms: round(b.p99Ms),
  };
}

function hopRow(label: string, payloads: Payloads, workers: number, d: Drained, xadd: XaddBaseline, oneWorker?: number): ResultRow {
  const entriesPerSec = d.done / d.seconds;
  const row: ResultRow = {
    scenario: SCENARIO,
    case: label,
    workers,
    hitsPerEntry: payloads.hitsPerEntry,
    entryBytes: Math.round(payloads.avgBytes),
    entries: d.done,
    seconds: round(d.seconds),
    entriesPerSec: round(entriesPerSec),
    hitsPerSec: round(entriesPerSec * payloads.hitsPerEntry),
    ratioToXadd: round(entriesPerSec / xadd.requestsPerSec),
    scaleVs1Worker: oneWorker === undefined ? null : round(entriesPerSec / oneWorker),
    redisCpu: round(d.redisCpu),
    redisForkCpu: round(d.redisForkCpu),
    workersCpu: d.workersCpu === null ? null : round(d.workersCpu),
    redisMemMB: round(d.redisMemMB),
    aofRewrites: d.aofRewrites,
    aofDelayedFsync: d.aofDelayedFsync,
    loadAverage: round(d.loadAverage),
  };
  if (!d.complete) row.complete = false;
  return row;
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] as number;
}

const idMs = (id: string): number => Number(id.slice(0, id.indexOf('-')));

/**
 * Appends entries at a fixed rate to a running worker and measures each entry's in → out delay
 * from the stream ids (both stamped by Redis' clock, ms resolution). With one worker a
 * partition's outputs keep the order of its inputs (one batch per partition in flight), so the
 * k-th output of a partition belongs to its k-th input; a sample is checked by content.
 */
async function paced(env: Env, payloads: Payloads, entriesPerSec: number, linger?: string): Promise<ResultRow> {
  const label = `hop, ${payloads.hitsPerEntry}-hit entries, 1 worker, paced at ${fmt(entriesPerSec)}/s${linger === undefined ? '' : `, linger ${linger}`}`;
  const keys = await freshKeys(env, 'paced');
  const total = Math.min(payloads.entries.length, Math.max(1, Math.round(entriesPerSec * PACED_SECONDS)));
  const [worker] = startWorkers(env, keys, 1, `paced-${payloads.hitsPerEntry}x${entriesPerSec}${linger ?? ''}`, 'recode', linger === undefined ? {} : { BENCH_LINGER: linger });
  const sent: string[][] = keys.allPartitions().map(() => []);
  const sentPayload: Buffer[][] = keys.allPartitions().map(() => []);
  let redisCpu = 0;
  let workerCpu: number | null = null;
  let seconds = 0;
  try {
    await worker!.waitFor('ready', 30_000);
    await waitForAofIdle(env.admin, (text) => say(env, text));
    worker!.child.stdin?.write('go\n');
    await worker!.waitFor('started', 30_000);
    const cpuBefore = (await redisCounters(env.admin)).cpu;
    const workerCpuBefore = cpuSeconds(worker!.pid);
    const t0 = performance.now();
    let next = 0;
    while (next < total) {
      const due = Math.min(total, Math.floor(((performance.now() - t0) / 1000) * entriesPerSec));
      if (due > next) {
        const batch = payloads.entries.slice(next, due).map((data, j) => ({ key: keys.stream((next + j) % PARTITIONS, 'in'), data }));
        const ids = await env.redis.xaddMany(batch);
        ids.forEach((id, j) => {
          const partition = (next + j) % PARTITIONS;
          sent[partition]!.push(id);
          sentPayload[partition]!.push(batch[j]!.data);
        });
        next = due;
        say(env, `${label}: ${fmt(next)}/${fmt(total)} entries sent at ${fmt(entriesPerSec)}/s`);
      }
      await sleep(2);
    }
    const deadline = Date.now() + 30_000;
    while ((await outCount(env, keys)) < total && Date.now() < deadline) await sleep(POLL_MS);
    seconds = (performance.now() - t0) / 1000;
    redisCpu = ((await redisCounters(env.admin)).cpu - cpuBefore) / seconds;
    const workerCpuAfter = cpuSeconds(worker!.pid);
    if (workerCpuBefore !== null && workerCpuAfter !== null) workerCpu = (workerCpuAfter - workerCpuBefore) / seconds;
  } finally {
    await stopWorkers(env, worker ? [worker] : []);
  }
  say(env, `${label}: reading the outputs`);
  const latencies: number[] = [];
  let mismatched = 0;
  for (const p of keys.allPartitions()) {
    const out = await env.redis.xrange(keys.stream(p, 'out'));
    out.forEach((entry, k) => {
      const inId = sent[p]![k];
      if (inId !== undefined) latencies.push(idMs(entry.id) - idMs(inId));
    });
    for (const k of [0, out.length - 1]) {
      const a = out[k]?.data;
      const b = sentPayload[p]![k];
      if (a === undefined || b === undefined) continue;
      if (JSON.stringify(decode(a)) !== JSON.stringify(decode(b))) mismatched++;
    }
  }
  if (mismatched > 0) env.ctx.note(`${label}: ${mismatched} sampled outputs were not at their input's position; latencies are unreliable`);
  latencies.sort((a, b) => a - b);
  return {
    scenario: SCENARIO,
    case: label,
    workers: 1,
    hitsPerEntry: payloads.hitsPerEntry,
    entryBytes: Math.round(payloads.avgBytes),
    entries: latencies.length,
    seconds: round(seconds),
    entriesPerSec: round(entriesPerSec),
    hitsPerSec: round(entriesPerSec * payloads.hitsPerEntry),
    latencyP50Ms: percentile(latencies, 50),
    latencyP99Ms: percentile(latencies, 99),
    redisCpu: round(redisCpu),
    workersCpu: workerCpu === null ? null : round(workerCpu),
    workerCpuUsPerEntry: workerCpu === null ? null : round((workerCpu * 1e6) / entriesPerSec),
    ...(latencies.length < total ? { complete: false } : {}),
  };
}

function payloadsOf(entries: Buffer[], hitsPerEntry: number): Payloads {
  return { hitsPerEntry, entries, avgBytes: entries.reduce((sum, b) => sum + b.length, 0) / entries.length };
}

async function baseline(env: Env, payloads: Payloads): Promise<XaddBaseline> {
  const bytes = Math.round(payloads.avgBytes);
  const requests = Math.min(BASELINE_MAX_REQUESTS, Math.floor(BASELINE_BYTES / bytes));
  say(env, `redis-benchmark: ${fmt(requests)} XADD of ${fmt(bytes)} B`);
  await env.admin.call('FLUSHALL', 'SYNC');
  await waitForAofIdle(env.admin, (text) => say(env, text));
  const result = await xaddBaseline(env.server.port, 'bench:xadd', bytes, requests);
  await env.admin.call('FLUSHALL', 'SYNC');
  return result;
}

/** The mean of the XADD baselines taken before and after the hop cases: the machine drifts. */
function meanBaseline(first: XaddBaseline, last: XaddBaseline): XaddBaseline {
  const mean = (a: number, b: number): number => (a + b) / 2;
  return { ...first, requestsPerSec: mean(first.requestsPerSec, last.requestsPerSec), p50Ms: mean(first.p50Ms, last.p50Ms), p99Ms: mean(first.p99Ms, last.p99Ms) };
}

async function runAll(env: Env): Promise<ResultRow[]> {
  say(env, 'generating hits');
  const factory = new HitFactory(new Keys('gen', PARTITIONS));
  const batched = payloadsOf(factory.entries(BATCHED_ENTRIES, BATCHED_HITS, PARTITIONS), BATCHED_HITS);
  const single = payloadsOf(factory.entries(SINGLE_ENTRIES, 1, PARTITIONS), 1);
  const firstSingle = await baseline(env, single);
  const firstBatched = await baseline(env, batched);

  const drained: Array<{ label: string; payloads: Payloads; workers: number; mode: HopMode; result: Drained }> = [];
  const cases: Array<[Payloads, HopMode]> = [[batched, 'forward'], [batched, 'recode'], [single, 'recode']];
  for (const [payloads, mode] of cases) {
    for (const workers of [1, 2]) {
      const label = `hop${mode === 'forward' ? ' (forward bytes)' : ''}, ${payloads.hitsPerEntry}-hit entries, ${workers} worker${workers > 1 ? 's' : ''}`;
      const caseId = `${payloads.hitsPerEntry}x${workers}${mode === 'forward' ? 'f' : ''}`;
      drained.push({ label, payloads, workers, mode, result: await drain(env, caseId, label, payloads, workers, mode) });
    }
  }
  const rate = (payloads: Payloads, workers: number, mode: HopMode = 'recode'): number => {
    const found = drained.find((d) => d.payloads === payloads && d.workers === workers && d.mode === mode)?.result;
    return found ? found.done / found.seconds : NaN;
  };
  const pacedRows = [await paced(env, batched, Math.max(1, Math.round(rate(batched, 1) * PACED_LOAD)))];
  // Light traffic, the daily case of the campaign and deliver stages: the runner's linger against none.
  for (const perSec of LIGHT_RATES) for (const linger of [undefined, '0ms']) pacedRows.push(await paced(env, single, perSec, linger));

  const lastSingle = await baseline(env, single);
  const lastBatched = await baseline(env, batched);
  const xaddSingle = meanBaseline(firstSingle, lastSingle);
  const xaddBatched = meanBaseline(firstBatched, lastBatched);
  env.ctx.note(`Baselines: \`${firstSingle.args}\` and \`${firstBatched.args}\`, run before and after the hop cases (${fmt(firstSingle.requestsPerSec)} then ${fmt(lastSingle.requestsPerSec)}, and ${fmt(firstBatched.requestsPerSec)} then ${fmt(lastBatched.requestsPerSec)} requests/s); the rows show their mean.`);

  const rows: ResultRow[] = [baselineRow(xaddSingle, 1), baselineRow(xaddBatched, BATCHED_HITS)];
  for (const { label, payloads, workers, mode, result } of drained) {
    const xadd = payloads === batched ? xaddBatched : xaddSingle;
    rows.push(hopRow(label, payloads, workers, result, xadd, workers === 1 ? undefined : rate(payloads, 1, mode)));
    if (payloads === batched) {
      const hits = (result.done / result.seconds) * BATCHED_HITS;
      const verdict = hits >= TARGET_HITS_PER_SEC ? 'meets it' : `misses it (${round(hits / TARGET_HITS_PER_SEC)} of it)`;
      env.ctx.note(`Target ≥ ${fmt(TARGET_HITS_PER_SEC)} hits/s through one hop with ${BATCHED_HITS}-hit entries: ${label} ${verdict}.`);
    }
  }
  rows.push(...pacedRows);
  return rows;
}

export const runtimeScenario: Scenario = {
  description: [
    'One stage (`in` → `out`; "forward bytes" outputs each entry as it came, measuring the runtime itself; the others decode and re-encode every entry, as a stage that rewrites every hit would) on the real',
    `stage runtime with production settings (batch 100, 8 batches in flight, ${PARTITIONS} partitions) and its own`,
    'redis-server (`appendonly yes`, `appendfsync everysec`), draining a preloaded backlog:',
    `${fmt(BATCHED_ENTRIES)} entries of ${BATCHED_HITS} hits, then ${fmt(SINGLE_ENTRIES)} single-hit entries (a hit is a cart add of about`,
    '225 B in MessagePack). Timed from "go" (workers already started and connected) until every output',
    'is in `out`. `ratioToXadd`: entries/s over the requests/s of redis-benchmark XADD with a payload of',
    'the same size on the same server (16 clients, pipeline 16). `scaleVs1Worker`: 2 workers over 1.',
    '`redisCpu`, `redisForkCpu` (the AOF rewrite child) and `workersCpu`: cores busy during the drain (paced: the run); `workerCpuUsPerEntry`: the worker\'s CPU µs per entry.',
    `The first paced row appends at ${PACED_LOAD * 100} % of the 1-worker rate for ${PACED_SECONDS} s; the light ones ${LIGHT_RATES.join(' and ')} single-hit entries/s, with the default \`stages.linger\` and with none; latencies are in → out per entry`,
    "(from the stream ids, ms); the baselines' latencies are redis-benchmark's request round trips.",
    '`loadAverage`: the 1-minute load of the machine at the end of the case; the case itself accounts for about 2 of it.',
  ].join('\n'),
  columns: ['case', 'workers', 'hitsPerEntry', 'entryBytes', 'entries', 'seconds', 'entriesPerSec', 'hitsPerSec', 'ratioToXadd', 'scaleVs1Worker', 'latencyP50Ms', 'latencyP99Ms', 'redisCpu', 'redisForkCpu', 'workersCpu', 'redisMemMB', 'aofRewrites', 'aofDelayedFsync', 'workerCpuUsPerEntry', 'loadAverage', 'complete'],
  timeoutMs: 5 * 60_000,
  async run(ctx) {
    const started = Date.now();
    ctx.progress(`[${SCENARIO}] starting redis-server`);
    const server = await startRedis({ appendonly: true });
    let redis: RedisPort | undefined;
    let admin: Redis | undefined;
    try {
      redis = await connectRedis({ url: server.url }, { connectTimeoutMs: 10_000, name: 'bench' });
      admin = new Redis(server.url, { connectionName: 'bench-admin', maxRetriesPerRequest: 1 });
      return await runAll({ ctx, server, redis, admin, started });
    } finally {
      await redis?.close();
      admin?.disconnect();
      await server.stop();
    }
  },
};

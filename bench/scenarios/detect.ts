// Scenario "detect": hits/s of detect processes draining a preloaded backlog of hit entries with
// 100 and 1,000 enabled triggers on the source; Redis memory per active visitor and per waiting
// trigger; and how late timers fire when many visits wait (their deadlines spread over a window).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { decode, encode } from '../../src/core/codec.js';
import { connectRedis, type RedisPort } from '../../src/core/redis/client.js';
import { Keys } from '../../src/core/redis/keys.js';
import { putSource } from '../../src/model/source-store.js';
import { putTrigger } from '../../src/model/trigger-store.js';
import { defaultVisit, type HitEffect } from '../../src/stages/detect/hit-effects.js';
import { VisitorState, type VisitorWrite } from '../../src/stages/detect/visitor-state.js';
import { startRedis, type RedisProcess } from '../../test/support/redis-server.js';
import { infoField, rewriteAof } from '../support/redis-info.js';
import { round, sleep, type ResultRow, type Scenario, type ScenarioContext } from '../support/harness.js';
import { seededRandom } from '../support/hits.js';
import { cpuProfileArgs, cpuSeconds, mainThreadSched, reboundNodeFlags, spawnTracked, type Tracked } from '../support/processes.js';

const PARTITIONS = 16;
const HITS = 300_000;
const HITS_PER_ENTRY = 100;
const VISITORS = 30_000;
const WAITING = Number(process.env.BENCH_DETECT_WAITING ?? 200_000);
/** Deadlines of the waiting visits are spread so that this many come due per second. */
const DUE_PER_SEC = 10_000;
const WORKER = fileURLToPath(new URL('../workers/detect-worker.ts', import.meta.url));
const REPO = fileURLToPath(new URL('../..', import.meta.url));
const INACTIVITY_MS = 600_000;

interface Env {
  ctx: ScenarioContext;
  server: RedisProcess;
  redis: RedisPort;
  admin: Redis;
}

const realTriggers = [
  { id: 'cart-abandonment', type: 'abandonment', include: { containers: [[{ metric: 'scAdd', op: 'exists' }]] }, exclude: { match: 'any', containers: [[{ metric: 'purchase', op: 'exists' }]] }, metadata: ['pageName', 'products'] },
  { id: 'browse-abandonment', type: 'abandonment', include: { containers: [[{ dimension: 'pageName', op: 'contains', value: 'Deals' }]] }, metadata: ['pageName'] },
  { id: 'search-abandonment', type: 'abandonment', include: { containers: [[{ metric: 'search', op: 'exists' }]] }, metadata: ['searchTerm'] },
  { id: 'many-views', type: 'sessionEnd', include: { containers: [[{ metric: 'prodView', op: 'gte', value: 3, scope: 'visit' }]] }, metadata: [] },
];

/** `count` triggers: the realistic ones, then triggers on metrics and eVars no hit carries. */
export function triggers(count: number): unknown[] {
  const all: unknown[] = realTriggers.map((t) => ({ kind: 'Trigger', name: t.id, source: 'shop-web', inactivity: '10m', ...t }));
  for (let i = all.length; i < count; i++) {
    const condition = i % 2 === 0 ? { metric: `event${100 + i}`, op: 'exists' } : { dimension: `eVar${(i % 200) + 10}`, op: 'eq', value: `v${i}` };
    all.push({ kind: 'Trigger', id: `synthetic-${i}`, name: `Synthetic ${i}`, source: 'shop-web', type: 'abandonment', inactivity: '10m', include: { containers: [[condition]] }, metadata: [] });
  }
  return all;
}

/** The benchmark's hits (HITS_PER_ENTRY per entry, VISITORS visitors, seeded), as ingest writes them, per partition stream. */
export function hitEntries(keys: Keys, now: number): Array<{ key: string; data: Buffer }> {
  const random = seededRandom(7);
  const visitors = Array.from({ length: VISITORS }, (_, i) => `7${String(i * 7919).padStart(37, "0")}`);
  const byPartition: unknown[][] = keys.allPartitions().map(() => []);
  const pages = ['home', 'Summer Deals', 'product:boots', 'cart', 'search'];
  for (let i = 0; i < HITS; i++) {
    const visitorId = visitors[i % VISITORS] as string;
    const kind = random();
    const events = kind < 0.5 ? ['prodView'] : kind < 0.75 ? ['scAdd'] : kind < 0.8 ? ['search'] : kind < 0.82 ? ['purchase'] : [];
    byPartition[keys.partitionOf(visitorId)]!.push({
      id: `b-${i}`, source: 'shop-web', visitorId, ts: now + i, receivedAt: now + i, type: 'track', events,
      pageName: pages[Math.floor(random() * pages.length)], ...(events[0] === 'search' ? { searchTerm: 'boots' } : {}),
      products: events[0] === 'scAdd' ? [{ sku: `SKU-${i % 500}`, price: 19.9, quantity: 1 }] : undefined,
      dims: { eVar5: 'gold' },
    });
  }
  const entries: Array<{ key: string; data: Buffer }> = [];
  byPartition.forEach((hits, p) => {
    for (let i = 0; i < hits.length; i += HITS_PER_ENTRY) entries.push({ key: keys.stream(p, 'hits'), data: encode(hits.slice(i, i + HITS_PER_ENTRY)) });
  });
  return entries;
}

async function fresh(env: Env, triggerCount: number): Promise<{ keys: Keys; slots: Map<string, number> }> {
  await env.admin.call('FLUSHALL', 'SYNC');
  const keys = new Keys(`bench-detect-${Date.now().toString(36)}`, PARTITIONS);
  await putSource(env.redis, keys, { kind: 'Source', id: 'shop-web', writeKeys: ['wk_bench_000000'] });
  const slots = new Map<string, number>();
  for (const trigger of triggers(triggerCount)) {
    const stored = await putTrigger(env.redis, keys, trigger);
    slots.set(stored.id, stored.slot);
  }
  return { keys, slots };
}

/** `everyPartition`: each worker reads every partition (stages.partitions: all), else they share them (the default). */
function startWorkers(env: Env, keys: Keys, count: number, caseId: string, everyPartition = false): Tracked[] {
  // BENCH_DETECT_NODE_ARGS: extra node options for the workers while investigating (e.g. --trace-gc; see BENCH_DETECT_LOG).
  const extra = (process.env.BENCH_DETECT_NODE_ARGS ?? '').split(' ').filter((arg) => arg !== '');
  return Array.from({ length: count }, () =>
    spawnTracked(process.execPath, [...cpuProfileArgs(caseId), ...reboundNodeFlags, ...extra, '--import', 'tsx', WORKER], {
      cwd: REPO,
      env: {
        ...process.env, BENCH_PREFIX: keys.prefix, BENCH_REDIS_URL: env.server.url, BENCH_PARTITIONS: String(PARTITIONS),
        ...(everyPartition ? { BENCH_SERVED: 'all' } : {}),
      },
      stdio: ['pipe', 'pipe', 'pipe'],
    }),
  );
}

async function detectBacklog(redis: RedisPort, keys: Keys): Promise<number> {
  let left = 0;
  for (const p of keys.allPartitions()) {
    const group = (await redis.xinfoGroups(keys.stream(p, 'hits'))).find((g) => g.name === 'detect');
    left += group ? (group.lag ?? 0) + group.pending : await redis.xlen(keys.stream(p, 'hits'));
  }
  return left;
}

/** CPU seconds Redis has used (user + system, main process). */
async function redisCpu(admin: Redis): Promise<number> {
  const info = await admin.info('cpu');
  return infoField(info, 'used_cpu_user') + infoField(info, 'used_cpu_sys');
}

async function memoryPer(env: Env, pattern: string, sample: number): Promise<number> {
  const keys = (await env.redis.scanKeys(pattern)).slice(0, sample);
  let bytes = 0;
  for (const key of keys) bytes += Number(await env.admin.call('MEMORY', 'USAGE', key, 'SAMPLES', '0'));
  return keys.length > 0 ? bytes / keys.length : NaN;
}

async function throughput(env: Env, triggerCount: number, workerCount: number, everyPartition = false): Promise<ResultRow> {
  const sharing = workerCount === 1 ? '' : everyPartition ? ', each reading every partition (stages.partitions: all)' : ', sharing the partitions (default)';
  const label = `${workerCount} detect process${workerCount > 1 ? 'es' : ''}, ${triggerCount} triggers${sharing}`;
  const { keys } = await fresh(env, triggerCount);
  const workers = startWorkers(env, keys, workerCount, `throughput-${triggerCount}-${workerCount}${everyPartition ? '-all' : ''}`, everyPartition);
  try {
    const entries = hitEntries(keys, Date.now());
    for (let i = 0; i < entries.length; i += 500) await env.redis.xaddMany(entries.slice(i, i + 500));
    await Promise.all(workers.map((w) => w.waitFor('ready', 30_000)));
    await rewriteAof(env.admin, (text) => env.ctx.progress(`[detect] ${label}: ${text}`));
    const forksBefore = infoField(await env.admin.info('stats'), 'total_forks');
    const cpuBefore = workers.map((w) => cpuSeconds(w.pid) ?? 0);
    const schedBefore = workers.map((w) => mainThreadSched(w.pid));
    if (process.env.BENCH_DETECT_LOG) await env.admin.call('CONFIG', 'RESETSTAT');
    const redisBefore = await redisCpu(env.admin);
    const t0 = performance.now();
    for (const w of workers) w.child.stdin?.write('go\n');
    let left = HITS;
    while (left > 0 && performance.now() - t0 < 120_000) {
      await sleep(100);
      left = await detectBacklog(env.redis, keys);
      env.ctx.progress(`[detect] ${label}: ${entries.length - left} of ${entries.length} entries`);
    }
    const seconds = (performance.now() - t0) / 1000;
    const cpu = workers.reduce((sum, w, i) => sum + ((cpuSeconds(w.pid) ?? 0) - (cpuBefore[i] ?? 0)), 0);
    // Per worker main thread, the share of the window it ran and waited for a CPU (averaged over the workers).
    const sched = (field: 'run' | 'wait'): number =>
      round(workers.reduce((sum, w, i) => sum + ((mainThreadSched(w.pid)?.[field] ?? NaN) - (schedBefore[i]?.[field] ?? NaN)), 0) / workers.length / seconds);
    const redisCores = ((await redisCpu(env.admin)) - redisBefore) / seconds;
    const aofRewrites = infoField(await env.admin.info('stats'), 'total_forks') - forksBefore;
    const visitorBytes = await memoryPer(env, `${keys.prefix}:{p*}:v:*`, 1000);
    let waiting = 0;
    let timerBytes = 0;
    for (const p of keys.allPartitions()) {
      waiting += await env.redis.zcard(keys.timers(p));
      timerBytes += Number(await env.admin.call('MEMORY', 'USAGE', keys.timers(p), 'SAMPLES', '0'));
    }
    return {
      scenario: 'detect', case: label, hits: HITS, seconds: round(seconds), hitsPerSec: round(left === 0 ? HITS / seconds : NaN),
      workersCpu: round(cpu / seconds), workerMainRunning: sched('run'), workerMainWaitingForCpu: sched('wait'), redisCpu: round(redisCores), aofRewrites, bytesPerVisitor: round(visitorBytes), waitingTimers: waiting, bytesPerWaitingTrigger: round(timerBytes / Math.max(1, waiting)), complete: left === 0,
    };
  } finally {
    await Promise.all(workers.map((w) => w.stop()));
    // BENCH_DETECT_LOG=<dir>: each worker's output (its log, and whatever BENCH_DETECT_NODE_ARGS made it print).
    if (process.env.BENCH_DETECT_LOG) writeFileSync(join(process.env.BENCH_DETECT_LOG, `${label.replace(/[^a-z0-9]+/gi, '-')}-redis-commandstats.txt`), await env.admin.info('commandstats'));
    if (process.env.BENCH_DETECT_LOG) for (const w of workers) writeFileSync(join(process.env.BENCH_DETECT_LOG, `${label.replace(/[^a-z0-9]+/gi, '-')}-${w.pid}.log`), w.output());
  }
}

/** Visits waiting on cart abandonment, written as detect leaves them, due over a window. */
async function timerLag(env: Env): Promise<ResultRow> {
  const { keys, slots } = await fresh(env, 100);
  const slot = slots.get('cart-abandonment') as number;
  // The first deadline comes after the preload (written at ≥ 15,000 visits/s here), so that no
  // timer is overdue before the worker starts.
  const start = Date.now() + 10_000 + Math.ceil(WAITING / 15);
  const windowMs = (WAITING / DUE_PER_SEC) * 1000;
  for (let i = 0; i < WAITING; i += 5000) {
    const pipeline = env.admin.pipeline();
    for (let j = i; j < Math.min(WAITING, i + 5000); j++) {
      const visitor = `w${j}`;
      const p = keys.partitionOf(visitor);
      const due = start + Math.floor((j / WAITING) * windowMs);
      const last = due - INACTIVITY_MS;
      // The state detect leaves after one cart add: written by the detect stage's own code.
      const state = new VisitorState(keys.visitor(p, visitor));
      const effect: HitEffect = {
        hash: 0, receivedAt: last, ts: last, visit: defaultVisit, visitorId: visitor, aliases: undefined, counts: undefined,
        cart: [['SKU-1', 1, 19.9, undefined, undefined]],
        matches: [{ slot, rearmed: true, delayMs: INACTIVITY_MS, include: [0], excluded: false, metadata: undefined }],
      };
      state.apply(effect, new Map());
      const write = state.write(0) as VisitorWrite; // the preload sets no time to live
      pipeline.hset(state.key, 's', write.state, ...write.set);
      pipeline.zadd(keys.timers(p), due, `${slot}|1|${visitor}`);
    }
    await pipeline.exec();
    env.ctx.progress(`[detect] timers: preloading ${Math.min(WAITING, i + 5000)} of ${WAITING} waiting visits`);
  }
  const timerBytes = await Promise.all(keys.allPartitions().map((p) => env.admin.call('MEMORY', 'USAGE', keys.timers(p), 'SAMPLES', '0')));
  const visitorBytes = await memoryPer(env, `${keys.prefix}:{p*}:v:*`, 1000);
  const [worker] = startWorkers(env, keys, 1, 'timer-lag');
  try {
    await worker!.waitFor('ready', 30_000);
    worker!.child.stdin?.write('go\n');
    const deadline = start + windowMs + 60_000;
    let fired = 0;
    while (fired < WAITING && Date.now() < deadline) {
      await sleep(250);
      fired = 0;
      for (const p of keys.allPartitions()) fired += await env.redis.xlen(keys.stream(p, 'fired'));
      env.ctx.progress(`[detect] timers: ${fired} of ${WAITING} fired`);
    }
    const lags: number[] = [];
    for (const p of keys.allPartitions()) {
      for (const entry of await env.redis.xrange(keys.stream(p, 'fired'))) {
        const record = decode<unknown[]>(entry.data as Buffer);
        lags.push((record[2] as number) - ((record[4] as number) + INACTIVITY_MS));
      }
    }
    lags.sort((a, b) => a - b);
    const at = (q: number): number => lags[Math.min(lags.length - 1, Math.floor(q * lags.length))] ?? NaN;
    return {
      scenario: 'detect', case: `timer lag, ${WAITING.toLocaleString('en-US')} waiting visits due over ${Math.round(windowMs / 1000)} s`,
      waitingTimers: WAITING, fired, lagP50Ms: at(0.5), lagP99Ms: at(0.99), lagMaxMs: lags[lags.length - 1] ?? NaN,
      bytesPerVisitor: round(visitorBytes), bytesPerWaitingTrigger: round(timerBytes.reduce((a: number, b) => a + Number(b), 0) / WAITING), complete: fired === WAITING,
    };
  } finally {
    await worker!.stop();
  }
}

export const detectScenario: Scenario = {
  description: [
    `Detect processes (stage + timers, production settings) drain ${HITS.toLocaleString('en-US')} preloaded hits (${HITS_PER_ENTRY} per entry, ${VISITORS.toLocaleString('en-US')} visitors) on their own redis-server`,
    '(AOF everysec, `hash-max-listpack-value 512` as recommended), with 100 and 1,000 enabled triggers on the source (4 realistic ones, the rest on metrics and eVars no hit carries);',
    'two processes either share the partitions (the default `stages.partitions: shared`: each reads its half) or both read every partition (`all`: their writes to the same visitors are checked and re-applied on conflict).',
    '`workersCpu`, `redisCpu`: cores busy while draining; `workerMainRunning`, `workerMainWaitingForCpu`: share of the window a worker\'s main thread (the one JavaScript runs on) ran, and was runnable but waited for a CPU taken by other processes (/proc schedstat, averaged over the workers); the rest of the window it had nothing to do (waiting for Redis). Each window starts on a freshly rewritten AOF (BGREWRITEAOF, waited for); `aofRewrites`: forks of Redis during the window (an automatic AOF rewrite forks a copy of Redis that competes for the 2 cores).',
    'The detect role talks to Redis over a connection of its own without auto-pipelining, so a batch\'s script goes out as soon as it is built, and writes the visitor states it vouches for without comparing their versions (a last-write token per partition).',
    'Memory is `MEMORY USAGE` averaged over 1,000 visitor hashes, and the timers sorted sets over their members.',
    `Timer lag: ${WAITING.toLocaleString('en-US')} visits waiting on cart abandonment, written as detect leaves them, their deadlines spread at ${DUE_PER_SEC.toLocaleString('en-US')}/s; lag = fired − deadline (BENCH_DETECT_WAITING=1000000 for the SPEC's million).`,
  ].join(' '),
  columns: ['case', 'hits', 'seconds', 'hitsPerSec', 'workersCpu', 'workerMainRunning', 'workerMainWaitingForCpu', 'redisCpu', 'aofRewrites', 'waitingTimers', 'fired', 'lagP50Ms', 'lagP99Ms', 'lagMaxMs', 'bytesPerVisitor', 'bytesPerWaitingTrigger', 'complete'],
  timeoutMs: 15 * 60_000,
  async run(ctx) {
    const server = await startRedis({ appendonly: true, extraArgs: ['--hash-max-listpack-value', '512'] });
    const admin = new Redis(server.url);
    const redis = await connectRedis({ url: server.url }, { connectTimeoutMs: 5000, name: 'bench' });
    const env: Env = { ctx, server, redis, admin };
    try {
      // BENCH_DETECT_CASES=t100,t1000,t100x2,t100x2all,timers picks cases while iterating (default: all).
      const picked = new Set((process.env.BENCH_DETECT_CASES ?? 't100,t1000,t100x2,t100x2all,timers').split(','));
      const rows: ResultRow[] = [];
      const hundred = picked.has('t100') ? await throughput(env, 100, 1) : undefined;
      const thousand = picked.has('t1000') ? await throughput(env, 1000, 1) : undefined;
      for (const row of [hundred, thousand]) if (row) rows.push(row);
      if (picked.has('t100x2')) rows.push(await throughput(env, 100, 2));
      if (picked.has('t100x2all')) rows.push(await throughput(env, 100, 2, true));
      if (picked.has('timers')) rows.push(await timerLag(env));
      const ratio = Number(thousand?.hitsPerSec) / Number(hundred?.hitsPerSec);
      ctx.note(`1,000 triggers vs 100: ${round(ratio)} of the throughput (target ≥ 0.8). Target ≥ 100,000 hits/s per process with 100 triggers: ${Number(hundred?.hitsPerSec) >= 100_000 ? 'met' : `missed (${round(Number(hundred?.hitsPerSec) / 100_000)} of it)`}.`);
      const cpuPerHit = (row: ResultRow | undefined, field: 'workersCpu' | 'redisCpu'): number => (Number(row?.[field]) * Number(row?.seconds) * 1e6) / HITS;
      if (hundred) ctx.note(`CPU per hit, 1 process with 100 triggers: ${round(cpuPerHit(hundred, 'workersCpu'))} µs in the detect process, ${round(cpuPerHit(hundred, 'redisCpu'))} µs in Redis.`);
      return rows;
    } finally {
      await redis.close();
      admin.disconnect();
      await server.stop();
    }
  },
};

// The measured cases of the end-to-end scenario, each on its own fresh redis-server (AOF
// everysec) with the same shoppers: Rebound (`rebound start`, one process per role), the
// node:http + ioredis per-hit XADD server (ingest only), and the BullMQ pipeline (API + worker).
// Each returns what it measured; bench/scenarios/e2e.ts turns that into rows and ratios.
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { parseConfig } from '../../src/core/config.js';
import { connectRedis } from '../../src/core/redis/client.js';
import { Keys } from '../../src/core/redis/keys.js';
import { startRedis, type RedisProcess } from '../../test/support/redis-server.js';
import { round, sleep, type ScenarioContext } from '../support/harness.js';
import { spawnTracked, type Tracked } from '../support/processes.js';
import { reapWithHarness } from '../support/reaper.js';
import { waitForAofIdle } from '../support/redis-info.js';
import { xaddBaseline, type XaddBaseline } from '../support/redis-benchmark.js';
import { coresBetween, cpuOf, MemorySampler, runShoppers, summarise, waitForCount, type Summary } from './e2e-load.js';
import { startRoles, stopRoles, writeConfig } from './e2e-rebound.js';
import { defineShop, EVENT_ID, loadPlainShopData, loadShopData, WRITE_KEY } from './e2e-shop.js';
import type { ShopperResult, ShopperSpec } from './e2e-shoppers.js';
import type { SmtpSink } from './e2e-sink.js';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const NAIVE = fileURLToPath(new URL('../workers/naive-ingest.ts', import.meta.url));
const BULLMQ_API = fileURLToPath(new URL('../baselines/bullmq-api.ts', import.meta.url));
const BULLMQ_WORKER = fileURLToPath(new URL('../baselines/bullmq-worker.ts', import.meta.url));
const PARTITIONS = 16;
/** Emails still missing after the load: wait while they keep coming, at most this long. */
const DELIVERY_WAIT_MS = 60_000;
const STALL_MS = 15_000;
const RECORDS_PER_ROUND = 1000;

export interface CaseSettings {
  ctx: ScenarioContext;
  sink: SmtpSink;
  /** The shoppers (host, port and pids are filled in per case). */
  spec: Omit<ShopperSpec, 'host' | 'port' | 'pids'>;
  inactivityMs: number;
  say: (text: string) => void;
}

export interface PipelineResult {
  load: ShopperResult;
  sent: number;
  toBuyers: number;
  hitToFire: Summary;
  fireToSend: Summary;
  hitToSend: Summary;
  /** Rebound only: the hops of fire → send (see RecordTimings). */
  hops?: { fireToCampaign: Summary; campaign: Summary; outboxToSend: Summary; steadyFireToSend: Summary };
  /** Emails handed over per second, first to last. */
  messagesPerSec: number;
  /** CPU cores of each process over the case (load start → last email or give-up), and their CPU seconds. */
  cores: Record<string, number | null>;
  cpuSeconds: number;
  /** Load start → last email (or give-up). */
  seconds: number;
  redisBaseBytes: number;
  redisPeakBytes: number;
  notes: string[];
}

export interface IngestResult {
  load: ShopperResult;
  cores: Record<string, number | null>;
}

async function freshRedis(): Promise<{ server: RedisProcess; reaper: Tracked; admin: Redis }> {
  const server = await startRedis({ appendonly: true });
  const reaper = reapWithHarness(server.pid, server.dir);
  return { server, reaper, admin: new Redis(server.url, { connectionName: 'bench-admin', maxRetriesPerRequest: 1 }) };
}

async function closeRedis(r: { server: RedisProcess; reaper: Tracked; admin: Redis }): Promise<void> {
  r.admin.disconnect();
  await r.server.stop();
  await r.reaper.stop(1000);
}

/** Waits for the emails still due, then returns the load → last email window in seconds. */
async function awaitEmails(s: CaseSettings, expected: number, loadStart: number, label: string): Promise<number> {
  const until = Math.min(Date.now() + s.inactivityMs + DELIVERY_WAIT_MS, s.ctx.deadline - 40_000);
  await waitForCount(async () => s.sink.accepted, expected, until, STALL_MS + s.inactivityMs, (done) => s.say(`${label}: ${done}/${expected} emails accepted by the SMTP sink`));
  return (Date.now() - loadStart) / 1000;
}

interface RecordTimings {
  hitToFire: number[];
  fireToSend: number[];
  hitToSend: number[];
  /** The hops of fire → send: to the campaign stage's read, its rendering and commit, the outbox to the SMTP server. */
  fireToCampaign: number[];
  campaign: number[];
  outboxToSend: number[];
  /** When each fire → send above was fired (to leave out the first seconds, processes still warming up). */
  firedAt: number[];
  sent: number;
  toBuyers: number;
  firstHanded: number;
  lastHanded: number;
}

/** Fire → send of the messages fired at least WARM_UP_MS after the first: processes past their start (JIT, pools, caches). */
export const WARM_UP_MS = 10_000;
function steady(t: RecordTimings): number[] {
  let first = Infinity;
  for (const at of t.firedAt) if (at < first) first = at;
  return t.fireToSend.filter((_, i) => (t.firedAt[i] as number) - first >= WARM_UP_MS);
}

/** Every message record of the event (its per-partition index), read back: the hop timestamps of those sent. */
async function readRecords(admin: Redis, keys: Keys, inactivityMs: number): Promise<RecordTimings> {
  const t: RecordTimings = { hitToFire: [], fireToSend: [], hitToSend: [], fireToCampaign: [], campaign: [], outboxToSend: [], firedAt: [], sent: 0, toBuyers: 0, firstHanded: Infinity, lastHanded: 0 };
  for (const p of keys.allPartitions()) {
    const ids = await admin.zrange(keys.eventMessages(p, EVENT_ID), 0, -1);
    for (let i = 0; i < ids.length; i += RECORDS_PER_ROUND) {
      const pipeline = admin.pipeline();
      for (const id of ids.slice(i, i + RECORDS_PER_ROUND)) pipeline.hmget(keys.message(p, id), 'status', 'visitorId', 'lastHitAt', 'firedAt', 'handedAt', 'receivedAt', 'renderedAt');
      for (const [, value] of (await pipeline.exec()) ?? []) {
        const [status, visitorId, lastHit, fired, handed, received, rendered] = (value as Array<string | null>).map((v) => v ?? '');
        if (status !== 'processed') continue;
        const [lastHitAt, firedAt, handedAt, receivedAt, renderedAt] = [Number(lastHit), Number(fired), Number(handed), Number(received), Number(rendered)];
        t.fireToCampaign.push(receivedAt - firedAt);
        t.campaign.push(renderedAt - receivedAt);
        t.outboxToSend.push(handedAt - renderedAt);
        t.sent++;
        if (visitorId?.startsWith('b-')) t.toBuyers++;
        t.hitToFire.push(firedAt - lastHitAt - inactivityMs);
        t.fireToSend.push(handedAt - firedAt);
        t.firedAt.push(firedAt);
        t.hitToSend.push(handedAt - lastHitAt - inactivityMs);
        t.firstHanded = Math.min(t.firstHanded, handedAt);
        t.lastHanded = Math.max(t.lastHanded, handedAt);
      }
    }
  }
  return t;
}

/** Rebound: one `rebound start` per role; the XADD ceiling measured on its server first. */
export async function reboundCase(s: CaseSettings, xaddPayloadBytes: number, xaddRequests: number): Promise<{ result: PipelineResult; xadd: XaddBaseline }> {
  const r = await freshRedis();
  try {
    s.say('Rebound: redis-benchmark XADD on its server');
    const xadd = await xaddBaseline(r.server.port, 'bench:xadd', xaddPayloadBytes, xaddRequests);
    await r.admin.del('bench:xadd');
    const keys = new Keys(`bench-e2e-${Date.now().toString(36)}`, PARTITIONS);
    const redis = await connectRedis({ url: r.server.url }, { connectTimeoutMs: 10_000, name: 'bench' });
    try {
      await defineShop(redis, keys, `${s.inactivityMs / 1000}s`);
      await loadShopData(redis, keys, parseConfig({}).campaign.indexedFields, s.spec.profiles, s.spec.products, (text) => s.say(`Rebound: ${text}`), r.admin);
    } finally {
      await redis.close();
    }
    await waitForAofIdle(r.admin, (text) => s.say(`Rebound: ${text}`));
    s.say('Rebound: starting deliver, campaign, detect and ingest');
    const config = writeConfig({ prefix: keys.prefix, partitions: PARTITIONS, redis: { url: r.server.url }, smtpUrl: s.sink.url });
    const roles = await startRoles(config, ['deliver', 'campaign', 'detect', 'ingest']);
    const notes: string[] = [];
    try {
      const ingest = roles.find((x) => x.role === 'ingest');
      const pids = { ...Object.fromEntries(roles.map((x) => [x.role, x.proc.pid])), redis: r.server.pid };
      const memory = new MemorySampler(r.admin);
      await sleep(1000);
      const redisBaseBytes = memory.last;
      s.sink.accepted = 0;
      const cpuBefore = cpuOf(pids);
      const loadStart = Date.now();
      const load = await runShoppers({ ...s.spec, host: '127.0.0.1', port: ingest?.port ?? 0, pids }, (text) => s.say(`Rebound: ${text}`));
      const seconds = await awaitEmails(s, load.abandoners, loadStart, 'Rebound');
      const { each, cpuSeconds } = coresBetween(cpuBefore, cpuOf(pids), seconds);
      memory.stop();
      s.say('Rebound: reading the message records back');
      const t = await readRecords(r.admin, keys, s.inactivityMs);
      return {
        xadd,
        result: {
          load, sent: t.sent, toBuyers: t.toBuyers, hitToFire: summarise(t.hitToFire), fireToSend: summarise(t.fireToSend), hitToSend: summarise(t.hitToSend),
          hops: { fireToCampaign: summarise(t.fireToCampaign), campaign: summarise(t.campaign), outboxToSend: summarise(t.outboxToSend), steadyFireToSend: summarise(steady(t)) },
          messagesPerSec: t.sent / Math.max(1, (t.lastHanded - t.firstHanded) / 1000), cores: each, cpuSeconds, seconds,
          redisBaseBytes, redisPeakBytes: memory.peak, notes,
        },
      };
    } finally {
      notes.push(...(await stopRoles(roles)));
    }
  } finally {
    await closeRedis(r);
  }
}

/** The hand-written ingest baseline: the same shoppers' messages POSTed to /v1/hits as arrays, XADD per message. */
export async function naiveCase(s: CaseSettings, durationMs: number): Promise<IngestResult> {
  const r = await freshRedis();
  try {
    const proc = spawnTracked(process.execPath, ['--import', 'tsx', NAIVE], {
      cwd: REPO,
      env: { ...process.env, BENCH_REDIS_URL: r.server.url, BENCH_STREAM: 'naive:hits', BENCH_WRITE_KEY: WRITE_KEY },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    try {
      await proc.waitFor('listening ', 30_000);
      const port = Number(/listening (\d+)/.exec(proc.output())?.[1]);
      const pids = { naive: proc.pid, redis: r.server.pid };
      const load = await runShoppers({ ...s.spec, durationMs, path: '/v1/hits', body: 'array', host: '127.0.0.1', port, pids }, (text) => s.say(`node:http + ioredis: ${text}`));
      const cores = Object.fromEntries(Object.entries(load.cpuSeconds).map(([name, cpu]) => [name, cpu === null ? null : round(cpu / load.seconds)]));
      return { load, cores };
    } finally {
      await proc.stop(5000);
    }
  } finally {
    await closeRedis(r);
  }
}

interface WorkerStats {
  sent: number;
  sentToBuyers: number;
  skipped: number;
  failed: number;
  firstSentAt: number;
  lastSentAt: number;
  hitToFire: Summary;
  fireToSend: Summary;
  hitToSend: Summary;
}

async function workerStats(worker: Tracked): Promise<WorkerStats> {
  const token = Date.now().toString(36);
  worker.child.stdin?.write(`stats ${token}\n`);
  const pattern = new RegExp(`stats ${token} (.*)\\n`);
  const deadline = Date.now() + 15_000;
  for (;;) {
    const match = pattern.exec(worker.output());
    if (match) return JSON.parse(match[1] as string) as WorkerStats;
    if (Date.now() > deadline) throw new Error(`the BullMQ worker did not answer stats:\n${worker.output().slice(-2000)}`);
    await sleep(20);
  }
}

/** The BullMQ pipeline: its API process and its worker process on a fresh Redis, same shoppers, same sink. */
export async function bullmqCase(s: CaseSettings): Promise<PipelineResult> {
  const r = await freshRedis();
  const env = { ...process.env, BENCH_REDIS_URL: r.server.url, BENCH_WRITE_KEY: WRITE_KEY, BENCH_INACTIVITY_MS: String(s.inactivityMs), BENCH_SMTP_URL: s.sink.url };
  const start = (file: string): Tracked => spawnTracked(process.execPath, ['--import', 'tsx', file], { cwd: REPO, env, stdio: ['pipe', 'pipe', 'pipe'] });
  try {
    await loadPlainShopData(r.admin, s.spec.profiles, s.spec.products, (text) => s.say(`BullMQ: ${text}`));
    await waitForAofIdle(r.admin, (text) => s.say(`BullMQ: ${text}`));
    s.say('BullMQ: starting the API and the worker');
    const api = start(BULLMQ_API);
    const worker = start(BULLMQ_WORKER);
    const notes: string[] = [];
    try {
      await Promise.all([api.waitFor('listening ', 60_000), worker.waitFor('ready', 60_000)]);
      const port = Number(/listening (\d+)/.exec(api.output())?.[1]);
      const pids = { api: api.pid, worker: worker.pid, redis: r.server.pid };
      const memory = new MemorySampler(r.admin);
      await sleep(1000);
      const redisBaseBytes = memory.last;
      s.sink.accepted = 0;
      const cpuBefore = cpuOf(pids);
      const loadStart = Date.now();
      const load = await runShoppers({ ...s.spec, host: '127.0.0.1', port, pids: { ingest: api.pid, redis: r.server.pid } }, (text) => s.say(`BullMQ: ${text}`));
      const seconds = await awaitEmails(s, load.abandoners, loadStart, 'BullMQ');
      const { each, cpuSeconds } = coresBetween(cpuBefore, cpuOf(pids), seconds);
      memory.stop();
      const stats = await workerStats(worker);
      if (stats.failed > 0) notes.push(`BullMQ: ${stats.failed} jobs failed`);
      return {
        load, sent: stats.sent, toBuyers: stats.sentToBuyers, hitToFire: stats.hitToFire, fireToSend: stats.fireToSend, hitToSend: stats.hitToSend,
        messagesPerSec: stats.sent / Math.max(1, (stats.lastSentAt - stats.firstSentAt) / 1000), cores: each, cpuSeconds, seconds,
        redisBaseBytes, redisPeakBytes: memory.peak, notes,
      };
    } finally {
      for (const proc of [api, worker]) {
        const code = await proc.stop(10_000);
        if (code !== 0 && code !== null) notes.push(`BullMQ process pid ${proc.pid} exited with ${code}`);
      }
    }
  } finally {
    await closeRedis(r);
  }
}

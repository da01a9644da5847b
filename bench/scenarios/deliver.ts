// Scenario "deliver": one deliver process (production settings) draining a preloaded outbox to
// a local smtp-server sink with 1 and with 8 pooled connections, and SMS to a local SMPP server
// (the `smpp` package); then emails appended at a steady rate for the outbox → accepted latency.
// Baseline in the same run: the same SMTP channel (nodemailer pool) alone, with no Redis, no
// claims and no records, sending the same emails to the same sink with 8 connections. The sinks run in the
// harness process; Redis is its own redis-server with AOF everysec, as in production.
import { mkdtempSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import smpp, { type Pdu, type Server as SmppServer, type Session } from 'smpp';
import { SMTPServer } from 'smtp-server';
import { encode } from '../../src/core/codec.js';
import { connectRedis, type RedisPort } from '../../src/core/redis/client.js';
import { Keys } from '../../src/core/redis/keys.js';
import { outboxStream, type ChannelName, type OutboxMessage } from '../../src/model/message.js';
import { freePort, startRedis, type RedisProcess } from '../../test/support/redis-server.js';
import { round, sleep, type ResultRow, type Scenario, type ScenarioContext } from '../support/harness.js';
import { percentile } from '../support/ingest-load.js';
import { cpuProfileArgs, cpuSeconds, reboundNodeFlags, spawnTracked, type Tracked } from '../support/processes.js';
import { fmt, infoField, waitForAofIdle } from '../support/redis-info.js';

const SCENARIO = 'deliver';
const PARTITIONS = 16;
const EMAILS_1 = 10_000;
const EMAILS_8 = 30_000;
const SMS = 20_000;
const PACED_SECONDS = 10;
const TARGET_EMAILS_PER_SEC = 5_000;
/** The paced run's rate, as a share of the 8-connection throughput just measured (at most the target). */
const PACED_LOAD = 0.5;
const CASE_TIMEOUT_MS = 120_000;
const PRELOAD_CHUNK = 2_000;
const WORKER = fileURLToPath(new URL('../workers/deliver-worker.ts', import.meta.url));
const REPO = fileURLToPath(new URL('../..', import.meta.url));

/** The sinks: they count what they accept and when, per message id when asked. */
interface Sinks {
  smtpUrl: string;
  smppUrl: string;
  accepted: number;
  /** Message id → accept time (performance.now), for the paced run only. */
  acceptedAt: Map<string, number> | undefined;
  close(): Promise<void>;
}

interface Env {
  ctx: ScenarioContext;
  server: RedisProcess;
  redis: RedisPort;
  admin: Redis;
  sinks: Sinks;
  started: number;
}

const products = Array.from({ length: 3 }, (_, i) => `<tr><td><img src="https://cdn.example.com/sku-${i}.png" alt=""></td><td>Trail shoes model ${i}</td><td>89,90&nbsp;€</td></tr>`).join('');

function email(id: string, firedAt: number): OutboxMessage {
  return {
    id,
    eventId: 'EVTcartAbandonment',
    triggerId: 'cart-abandonment',
    channel: 'email',
    templateId: 'cart-abandonment-email',
    templateVersion: 1,
    to: `customer-${id}@example.com`,
    from: 'Shop <shop@example.com>',
    subject: 'Amélie, your cart is waiting',
    html: `<html><body><h1>Your cart is waiting</h1><table>${products}</table><p><a href="https://shop.example.com/c/${id}">Back to your cart</a></p></body></html>`,
    text: 'Your cart is waiting: Trail shoes model 0, 1 and 2 (89,90 € each). https://shop.example.com/cart',
    headers: { 'List-Unsubscribe': `<https://shop.example.com/u/${id}>`, 'List-Unsubscribe-Post': 'List-Unsubscribe=One-Click' },
    firedAt,
    expiresAt: firedAt + 2 * 86_400_000,
  };
}

function sms(id: string, firedAt: number): OutboxMessage {
  return { ...email(id, firedAt), channel: 'sms', to: '+33612345678', text: 'Amélie, your trail shoes are still in your cart: shop.example.com/c/x', headers: {} };
}

function say(env: Env, text: string): void {
  env.ctx.progress(`[${SCENARIO} ${Math.round((Date.now() - env.started) / 1000)}s] ${text}`);
}

async function startSinks(): Promise<Sinks> {
  const smtpPort = await freePort();
  const smppPort = await freePort();
  const sinks: Sinks = { smtpUrl: `smtp://127.0.0.1:${smtpPort}`, smppUrl: `smpp://bench:bench@127.0.0.1:${smppPort}`, accepted: 0, acceptedAt: undefined, close: async () => undefined };
  const smtp = new SMTPServer({
    logger: false,
    authOptional: true,
    disabledCommands: ['AUTH', 'STARTTLS'],
    maxClients: 1000,
    onData(stream, _session, callback) {
      let head = '';
      stream.on('data', (chunk: Buffer) => {
        if (sinks.acceptedAt !== undefined && head.length < 4096) head += chunk.toString('latin1');
      });
      stream.on('end', () => {
        sinks.accepted++;
        const id = sinks.acceptedAt === undefined ? undefined : /^Message-ID:\s*<([^@>]+)@/im.exec(head)?.[1];
        if (id !== undefined) sinks.acceptedAt!.set(id, performance.now());
        callback(null, 'queued');
      });
    },
  });
  smtp.on('error', () => undefined);
  await new Promise<void>((resolve) => smtp.listen(smtpPort, '127.0.0.1', () => resolve()));
  let ids = 0;
  const smsc: SmppServer = smpp.createServer({}, (session: Session) => {
    session.on('error', () => undefined);
    session.on('bind_transceiver', (pdu: Pdu) => session.send(pdu.response()));
    session.on('enquire_link', (pdu: Pdu) => session.send(pdu.response()));
    session.on('submit_sm', (pdu: Pdu) => {
      sinks.accepted++;
      session.send(pdu.response({ message_id: `s${++ids}` }));
    });
  });
  await new Promise<void>((resolve) => smsc.listen(smppPort, '127.0.0.1', () => resolve()));
  sinks.close = async () => {
    for (const session of smsc.sessions) session.destroy();
    await Promise.all([new Promise<void>((resolve) => smtp.close(() => resolve())), new Promise<void>((resolve) => smsc.close(() => resolve()))]);
  };
  return sinks;
}

async function freshKeys(env: Env, caseId: string): Promise<Keys> {
  await env.admin.call('FLUSHALL', 'SYNC');
  return new Keys(`bench-${caseId}-${Date.now().toString(36)}`, PARTITIONS);
}

/** Appends messages as the campaign stage does: the record hash, then the outbox entry. */
async function append(env: Env, keys: Keys, messages: readonly OutboxMessage[]): Promise<void> {
  const records = messages.map((m) => env.redis.hset(keys.message(keys.partitionOf(m.id), m.id), 'status', 'processing'));
  await Promise.all(records);
  await env.redis.xaddMany(messages.map((m) => ({ key: keys.stream(keys.partitionOf(m.id), outboxStream(m.channel)), data: encode(m) })));
}

async function preload(env: Env, keys: Keys, channel: ChannelName, count: number, label: string): Promise<void> {
  const make = channel === 'email' ? email : sms;
  for (let i = 0; i < count; i += PRELOAD_CHUNK) {
    const now = Date.now();
    await append(env, keys, Array.from({ length: Math.min(PRELOAD_CHUNK, count - i) }, (_, j) => make(`${channel[0]}${i + j}`, now)));
    say(env, `${label}: preloading ${fmt(Math.min(i + PRELOAD_CHUNK, count))}/${fmt(count)}`);
  }
}

function startWorker(env: Env, keys: Keys | undefined, extra: Record<string, string>, label: string): Tracked {
  return spawnTracked(process.execPath, [...cpuProfileArgs(label), ...reboundNodeFlags, '--import', 'tsx', WORKER], {
    cwd: REPO,
    env: {
      ...process.env,
      BENCH_PREFIX: keys?.prefix ?? 'bench-baseline',
      BENCH_REDIS_URL: env.server.url,
      BENCH_PARTITIONS: String(PARTITIONS),
      BENCH_DATA_DIR: mkdtempSync(join(tmpdir(), 'rebound-bench-deliver-')),
      ...extra,
    },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
}

async function stopWorker(env: Env, worker: Tracked): Promise<void> {
  const code = await worker.stop();
  if (code !== 0 && code !== null) env.ctx.note(`worker pid ${worker.pid} exited with ${code}: ${worker.output().trim().split('\n').slice(-3).join(' / ')}`);
}

async function redisCpu(admin: Redis): Promise<number> {
  const info = await admin.info('cpu');
  return infoField(info, 'used_cpu_sys') + infoField(info, 'used_cpu_user');
}

async function waitAccepted(env: Env, total: number, label: string, deadline: number, worker: Tracked): Promise<number> {
  while (env.sinks.accepted < total && Date.now() < deadline) {
    if (worker.child.exitCode !== null) throw new Error(`${label}: worker pid ${worker.pid} ended:\n${worker.output().slice(-2000)}`);
    say(env, `${label}: ${fmt(env.sinks.accepted)}/${fmt(total)} accepted`);
    await sleep(20);
  }
  return env.sinks.accepted;
}

async function drain(env: Env, label: string, channel: ChannelName, count: number, connections: number): Promise<ResultRow> {
  const keys = await freshKeys(env, `${channel}${connections}`);
  const worker = startWorker(env, keys, channel === 'email' ? { BENCH_SMTP_URL: env.sinks.smtpUrl, BENCH_SMTP_CONNECTIONS: String(connections) } : { BENCH_SMPP_URL: env.sinks.smppUrl }, label);
  try {
    await preload(env, keys, channel, count, label);
    await worker.waitFor('ready', 30_000);
    await waitForAofIdle(env.admin, (text) => say(env, text));
    env.sinks.accepted = 0;
    const cpuBefore = [cpuSeconds(worker.pid), await redisCpu(env.admin)];
    const t0 = performance.now();
    worker.child.stdin?.write('go\n');
    const done = await waitAccepted(env, count, label, Math.min(Date.now() + CASE_TIMEOUT_MS, env.ctx.deadline - 60_000), worker);
    const seconds = (performance.now() - t0) / 1000;
    const workerCpu = cpuSeconds(worker.pid);
    const redis = ((await redisCpu(env.admin)) - (cpuBefore[1] as number)) / seconds;
    const memory = infoField(await env.admin.info('memory'), 'used_memory') / 2 ** 20;
    return {
      scenario: SCENARIO,
      case: label,
      channel,
      connections: channel === 'email' ? connections : null,
      messages: done,
      seconds: round(seconds),
      perSec: round(done / seconds),
      workerCpu: workerCpu === null || cpuBefore[0] === null ? null : round((workerCpu - (cpuBefore[0] as number)) / seconds),
      cpuUsPerMessage: workerCpu === null || cpuBefore[0] === null ? null : round(((workerCpu - (cpuBefore[0] as number)) * 1e6) / done),
      redisCpu: round(redis),
      redisMemMB: round(memory),
      loadAverage: round(loadavg()[0] ?? NaN),
      ...(done < count ? { complete: false } : {}),
    };
  } finally {
    say(env, `${label}: stopping the worker`);
    await stopWorker(env, worker);
  }
}

async function channelBaseline(env: Env, count: number, connections: number): Promise<ResultRow> {
  const label = `SMTP channel alone, no Redis (baseline), ${connections} connections`;
  const worker = startWorker(env, undefined, { BENCH_DELIVER_MODE: 'channel', BENCH_SMTP_URL: env.sinks.smtpUrl, BENCH_SMTP_CONNECTIONS: String(connections), BENCH_COUNT: String(count), BENCH_MESSAGE: JSON.stringify(email('x', Date.now())) }, label);
  try {
    await worker.waitFor('ready', 30_000);
    env.sinks.accepted = 0;
    const t0 = performance.now();
    worker.child.stdin?.write('go\n');
    const done = await waitAccepted(env, count, label, Math.min(Date.now() + CASE_TIMEOUT_MS, env.ctx.deadline - 60_000), worker);
    const seconds = (performance.now() - t0) / 1000;
    await worker.waitFor('done', 30_000);
    const cpu = Number(/done \S+ failed \d+ cpu (\S+)/.exec(worker.output())?.[1]);
    return {
      scenario: SCENARIO,
      case: label,
      channel: 'email',
      connections,
      messages: done,
      seconds: round(seconds),
      perSec: round(done / seconds),
      workerCpu: Number.isFinite(cpu) ? round(cpu / seconds) : null,
      cpuUsPerMessage: Number.isFinite(cpu) ? round((cpu * 1e6) / done) : null,
      loadAverage: round(loadavg()[0] ?? NaN),
      ...(done < count ? { complete: false } : {}),
    };
  } finally {
    await stopWorker(env, worker);
  }
}

/** Emails appended at `rate` per second for PACED_SECONDS; latency = accepted by the sink − appended. */
async function paced(env: Env, rate: number, connections: number): Promise<ResultRow> {
  const label = `email, ${connections} connections, paced at ${fmt(rate)}/s`;
  const keys = await freshKeys(env, 'paced');
  const worker = startWorker(env, keys, { BENCH_SMTP_URL: env.sinks.smtpUrl, BENCH_SMTP_CONNECTIONS: String(connections) }, label);
  const appendedAt = new Map<string, number>();
  const total = Math.round(rate * PACED_SECONDS);
  try {
    await worker.waitFor('ready', 30_000);
    worker.child.stdin?.write('go\n');
    await worker.waitFor('started', 30_000);
    await waitForAofIdle(env.admin, (text) => say(env, text));
    env.sinks.accepted = 0;
    env.sinks.acceptedAt = new Map();
    const t0 = performance.now();
    let next = 0;
    while (next < total) {
      const due = Math.min(total, Math.floor(((performance.now() - t0) / 1000) * rate));
      if (due > next) {
        const now = Date.now();
        const batch = Array.from({ length: due - next }, (_, j) => email(`p${next + j}`, now));
        const at = performance.now();
        for (const m of batch) appendedAt.set(m.id, at);
        await append(env, keys, batch);
        next = due;
        say(env, `${label}: ${fmt(next)}/${fmt(total)} appended, ${fmt(env.sinks.accepted)} accepted`);
      }
      await sleep(2);
    }
    const done = await waitAccepted(env, total, label, Date.now() + 60_000, worker);
    const latencies: number[] = [];
    for (const [id, at] of env.sinks.acceptedAt) {
      const appended = appendedAt.get(id);
      if (appended !== undefined) latencies.push(at - appended);
    }
    latencies.sort((a, b) => a - b);
    return {
      scenario: SCENARIO,
      case: label,
      channel: 'email',
      connections,
      messages: done,
      seconds: round((performance.now() - t0) / 1000),
      perSec: round(rate),
      latencyP50Ms: round(percentile(latencies, 50)),
      latencyP99Ms: round(percentile(latencies, 99)),
      loadAverage: round(loadavg()[0] ?? NaN),
      ...(done < total ? { complete: false } : {}),
    };
  } finally {
    env.sinks.acceptedAt = undefined;
    await stopWorker(env, worker);
  }
}

async function runAll(env: Env): Promise<ResultRow[]> {
  const rows: ResultRow[] = [];
  rows.push(await channelBaseline(env, EMAILS_8, 8));
  rows.push(await drain(env, 'email, 1 pooled connection', 'email', EMAILS_1, 1));
  const eight = await drain(env, 'email, 8 pooled connections', 'email', EMAILS_8, 8);
  rows.push(eight);
  rows.push(await drain(env, 'SMS over SMPP (window 10)', 'sms', SMS, 1));
  const measured = Number(eight.perSec);
  rows.push(await paced(env, Math.max(100, Math.round(Math.min(TARGET_EMAILS_PER_SEC, PACED_LOAD * measured))), 8));
  const baselineRate = Number(rows[0]?.perSec);
  const cpuPerEmail = Number(eight.cpuUsPerMessage);
  const baselineCpu = Number(rows[0]?.cpuUsPerMessage);
  env.ctx.note(`Emails/s with 8 connections: ${fmt(measured)}, ${round(measured / baselineRate)} of the channel alone (${fmt(baselineRate)}/s); target ≥ ${fmt(TARGET_EMAILS_PER_SEC)} per deliver process: ${measured >= TARGET_EMAILS_PER_SEC ? 'met' : 'missed'}.`);
  env.ctx.note(`CPU per email: ${fmt(cpuPerEmail)} µs in the deliver process against ${fmt(baselineCpu)} µs for the channel alone, so one fully available core would carry about ${fmt(1e6 / cpuPerEmail)} emails/s; claims, records and the stage runtime add ${Math.round((cpuPerEmail / baselineCpu - 1) * 100)} % on top of nodemailer's composing and SMTP work.`);
  env.ctx.note('The SMTP and SMPP sinks run in the harness process, on the same cores as the worker and Redis.');
  return rows;
}

export const deliverScenario: Scenario = {
  description: [
    'One deliver process with production settings (batch 100, 8 batches in flight, 16 partitions, email concurrency 64,',
    'SMPP window 10) drains a preloaded outbox on its own redis-server (`appendfsync everysec`): emails of about 1.5 KB',
    'to a local `smtp-server` sink over 1 and 8 pooled connections, and SMS to a local SMPP server (`smpp` package).',
    'Each message is claimed, handed over and recorded (status, counters, XACK) as in production. Timed from "go" (worker',
    'connected) until the sink accepted every message. Baseline in the same run: the same SMTP channel alone (no Redis,',
    'no claims, no records) sending the same emails to the same sink. The paced row appends emails at a steady rate and measures',
    `outbox → accepted by the sink per message (p50, p99) at ${PACED_LOAD * 100} % of the 8-connection rate. \`workerCpu\`, \`redisCpu\`: cores busy during the case;`,
    '`cpuUsPerMessage`: CPU time of the worker per message, which shared cores distort less than rates.',
  ].join('\n'),
  columns: ['case', 'channel', 'connections', 'messages', 'seconds', 'perSec', 'latencyP50Ms', 'latencyP99Ms', 'workerCpu', 'cpuUsPerMessage', 'redisCpu', 'redisMemMB', 'loadAverage', 'complete'],
  timeoutMs: 10 * 60_000,
  async run(ctx) {
    const started = Date.now();
    ctx.progress(`[${SCENARIO}] starting redis-server and the sinks`);
    const server = await startRedis({ appendonly: true });
    const sinks = await startSinks();
    let redis: RedisPort | undefined;
    let admin: Redis | undefined;
    try {
      redis = await connectRedis({ url: server.url }, { connectTimeoutMs: 10_000, name: 'bench' });
      admin = new Redis(server.url, { connectionName: 'bench-admin', maxRetriesPerRequest: 1 });
      return await runAll({ ctx, server, redis, admin, sinks, started });
    } finally {
      await redis?.close();
      admin?.disconnect();
      await sinks.close();
      await server.stop();
    }
  },
};

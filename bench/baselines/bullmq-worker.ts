// Baseline "what most Node teams would build", its worker half: a BullMQ Worker (concurrency 64)
// on the delayed cart jobs of bullmq-api.ts. When a job comes due it reads the visitor's cart
// (HGETALL), the profile (GET, JSON) and the cart's products (MGET), renders the same Handlebars
// template as Rebound's event and sends the email through nodemailer's pooled transport (8
// connections, like Rebound's deliver, and like it with Nagle's algorithm off on those sockets:
// otherwise each message waits ~40 ms for the server's delayed ACK and the comparison would be
// about a socket option, not the pipelines) to BENCH_SMTP_URL. It keeps the timings of each send:
// hit → fire (the worker took the job; minus the inactivity), fire → send (the SMTP server
// accepted it) and hit → send. Each line "stats <n>" on stdin is answered with "stats <n> <json>"
// (counts and percentiles so far). Env: BENCH_REDIS_URL, BENCH_SMTP_URL, BENCH_INACTIVITY_MS.
// Prints "ready"; exits on SIGTERM or when stdin ends (the harness is gone).
import { connect } from 'node:net';
import { createInterface } from 'node:readline';
import { Worker, type Job } from 'bullmq';
import { Redis } from 'ioredis';
import { createTransport } from 'nodemailer';
import SMTPPool from 'nodemailer/lib/smtp-pool/index.js';
import { bullmqQueue, plainKeys } from '../scenarios/e2e-shop.js';
import { percentile } from '../support/ingest-load.js';
import { renderCartEmail } from './cart-render.js';

const env = process.env;
const url = new URL(env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379');
const inactivityMs = Number(env.BENCH_INACTIVITY_MS ?? 5000);
const redis = new Redis(url.toString(), { connectionName: 'bullmq-worker' });
const noDelaySocket: NonNullable<SMTPPool.Options['getSocket']> = (options, callback) => {
  const socket = connect({ host: options.host ?? 'localhost', port: options.port ?? 25 });
  socket.setNoDelay(true);
  socket.once('error', (err) => callback(err, undefined as never));
  socket.once('connect', () => callback(null, { connection: socket }));
};
const transport = createTransport(new SMTPPool({ pool: true, url: env.BENCH_SMTP_URL, maxConnections: 8, maxMessages: 1_000_000, logger: false, getSocket: noDelaySocket }));

interface CartJob {
  visitorId: string;
  userId?: string;
  lastHitAt: number;
}

const timings = { hitToFire: [] as number[], fireToSend: [] as number[], hitToSend: [] as number[] };
let sent = 0;
let sentToBuyers = 0;
let skipped = 0;
let failed = 0;
let firstSentAt = 0;
let lastSentAt = 0;

async function process_(job: Job<CartJob>): Promise<void> {
  const firedAt = job.processedOn ?? Date.now();
  const { visitorId, userId, lastHitAt } = job.data;
  const [items, profileText] = await Promise.all([redis.hgetall(plainKeys.cart(visitorId)), userId ? redis.get(plainKeys.profile(userId)) : null]);
  const lines = Object.values(items).map((text) => JSON.parse(text) as { sku: string; quantity: number });
  if (profileText === null || lines.length === 0) {
    skipped++;
    return;
  }
  const profile = JSON.parse(profileText) as Record<string, unknown>;
  const rows = await redis.mget(...lines.map((line) => plainKeys.product(line.sku)));
  const cart = lines.map((line, i) => ({ ...(JSON.parse(rows[i] ?? '{}') as Record<string, unknown>), quantity: line.quantity }));
  const email = renderCartEmail({ profile, cart, ctx: { visitorId }, links: { unsubscribe: `https://shop.example.com/unsubscribe?u=${encodeURIComponent(String(profile.id))}` } });
  await transport.sendMail({ ...email, to: String(profile.email), messageId: `<${job.id ?? visitorId}@shop.example.com>`, headers: { 'List-Unsubscribe': '<https://shop.example.com/unsubscribe>' } });
  const now = Date.now();
  sent++;
  if (visitorId.startsWith('b-')) sentToBuyers++;
  firstSentAt ||= now;
  lastSentAt = now;
  timings.hitToFire.push(firedAt - lastHitAt - inactivityMs);
  timings.fireToSend.push(now - firedAt);
  timings.hitToSend.push(now - lastHitAt - inactivityMs);
}

const worker = new Worker<CartJob>(bullmqQueue, process_, { connection: { host: url.hostname, port: Number(url.port) }, concurrency: 64 });
worker.on('failed', () => void failed++);
worker.on('error', () => undefined);

function summary(values: number[]): { p50: number; p99: number; max: number } {
  const sorted = [...values].sort((a, b) => a - b);
  return { p50: percentile(sorted, 50), p99: percentile(sorted, 99), max: sorted.at(-1) ?? NaN };
}

async function stop(): Promise<void> {
  await worker.close().catch(() => undefined);
  transport.close();
  redis.disconnect();
  process.exit(0);
}
process.on('SIGTERM', () => void stop());
const input = createInterface({ input: process.stdin });
input.once('close', () => void stop());
input.on('line', (line) => {
  const [command, token = ''] = line.trim().split(/\s+/);
  if (command !== 'stats') return;
  const stats = { sent, sentToBuyers, skipped, failed, firstSentAt, lastSentAt, hitToFire: summary(timings.hitToFire), fireToSend: summary(timings.fireToSend), hitToSend: summary(timings.hitToSend) };
  process.stdout.write(`stats ${token} ${JSON.stringify(stats)}\n`);
});

await worker.waitUntilReady();
process.stdout.write('ready\n');

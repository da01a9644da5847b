// Load generator of the end-to-end scenarios: simulated shoppers (bench/scenarios/e2e-shoppers.ts)
// arriving at a fixed rate, each visit's Segment messages sent when due, gathered into requests
// of `batchSize` messages (a partial batch leaves after 20 ms) over keep-alive connections with
// one request in flight each. Open loop: arrivals never wait for the server; a batch waiting for
// a free connection counts in its latency (from when its last message was due). Spec in BENCH_SHOPPERS (JSON
// ShopperSpec); prints `progress …` lines and one `result {ShopperResult}` line, then exits.
// Exits when stdin ends (the harness is gone).
import http from 'node:http';
import { ShopperFactory, type ShopperResult, type ShopperSpec, type Step } from '../scenarios/e2e-shoppers.js';
import { percentile } from '../support/ingest-load.js';
import { cpuSeconds } from '../support/processes.js';

const spec = JSON.parse(process.env.BENCH_SHOPPERS ?? '{}') as ShopperSpec;
process.stdin.on('end', () => process.exit(3));
process.stdin.resume();

const TICK_MS = 2;
const PARTIAL_BATCH_MS = 20;
const DRAIN_MS = 30_000;

interface Due {
  due: number;
  shopper: number;
  message: Record<string, unknown>;
}

const factory = new ShopperFactory(spec);
const total = Math.floor((spec.shoppersPerSec * spec.durationMs) / 1000);
const stepsOf = new Uint8Array(total);
const acked = new Uint8Array(total);
const failed = new Uint8Array(total);
const buyer = new Uint8Array(total);
/** One FIFO per step number: arrivals are in order, so each queue is in due order. */
const queues: Due[][] = [];
const heads: number[] = [];
let pending: Due[] = [];
let arrived = 0;
let inFlight = 0;
let sent = 0;
let accepted = 0;
let requests = 0;
let maxBacklog = 0;
const errors: Record<string, number> = {};
const latencies: number[] = [];

const agent = new http.Agent({ keepAlive: true, maxSockets: spec.connections, maxFreeSockets: spec.connections });
const authorization = `Basic ${Buffer.from(`${spec.writeKey}:`).toString('base64')}`;
const noop = (): void => {};

function enqueue(n: number, arrivedAt: number): void {
  const shopper = factory.shopper(n);
  stepsOf[n] = shopper.steps.length;
  buyer[n] = shopper.buyer ? 1 : 0;
  shopper.steps.forEach((step: Step, k) => {
    (queues[k] ??= []).push({ due: arrivedAt + step.offsetMs, shopper: n, message: step.message });
    heads[k] ??= 0;
  });
}

function collectDue(now: number): void {
  for (let k = 0; k < queues.length; k++) {
    const queue = queues[k] as Due[];
    let head = heads[k] as number;
    while (head < queue.length && (queue[head] as Due).due <= now) pending.push(queue[head++] as Due);
    // Compact now and then so that the arrays do not keep every message of the run.
    if (head > 10_000) {
      queues[k] = queue.slice(head);
      head = 0;
    }
    heads[k] = head;
  }
}

let lastSendAt = 0;

function send(batch: Due[]): void {
  const sentAt = Date.now();
  lastSendAt = sentAt;
  // Ready when its last message was due (a partial batch also waited up to PARTIAL_BATCH_MS).
  const readyAt = batch.reduce((max, d) => Math.max(max, d.due), 0);
  const messages = batch.map((d) => ({ ...d.message, timestamp: new Date(d.due).toISOString() }));
  const body = Buffer.from(JSON.stringify(spec.body === 'segment-batch' ? { batch: messages, sentAt: new Date(sentAt).toISOString() } : messages));
  inFlight++;
  sent += batch.length;
  const done = (ok: boolean, label: string): void => {
    inFlight--;
    requests++;
    latencies.push(Date.now() - readyAt);
    if (ok) accepted += batch.length;
    else errors[label] = (errors[label] ?? 0) + 1;
    for (const d of batch) {
      if (ok) acked[d.shopper] = (acked[d.shopper] as number) + 1;
      else failed[d.shopper] = 1;
    }
  };
  const req = http.request(
    { host: spec.host, port: spec.port, method: 'POST', path: spec.path, agent, headers: { 'content-type': 'application/json', 'content-length': String(body.length), authorization } },
    (res) => {
      res.on('data', noop);
      res.on('end', () => done((res.statusCode ?? 0) >= 200 && (res.statusCode ?? 0) < 300, String(res.statusCode)));
    },
  );
  req.on('error', (err: NodeJS.ErrnoException) => done(false, `network ${err.code ?? err.message}`));
  req.end(body);
}

function flush(now: number, force: boolean): void {
  if (pending.length === 0) return;
  maxBacklog = Math.max(maxBacklog, pending.length);
  let start = 0;
  while (inFlight < spec.connections && pending.length - start >= spec.batchSize) {
    send(pending.slice(start, start + spec.batchSize));
    start += spec.batchSize;
  }
  const rest = pending.length - start;
  if (rest > 0 && rest < spec.batchSize && inFlight < spec.connections && (force || now - (pending[start] as Due).due >= PARTIAL_BATCH_MS)) {
    send(pending.slice(start));
    start = pending.length;
  }
  if (start > 0) pending = pending.slice(start);
}

function snapshot(): Record<string, number | null> {
  const cpu: Record<string, number | null> = {};
  for (const [name, pid] of Object.entries(spec.pids)) cpu[name] = cpuSeconds(pid);
  const self = process.cpuUsage();
  cpu.generator = (self.user + self.system) / 1e6;
  return cpu;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const queued = (): number => queues.reduce((sum, q, k) => sum + q.length - (heads[k] as number), 0);

async function main(): Promise<void> {
  const before = snapshot();
  const t0 = Date.now();
  const ticker = setInterval(() => {
    const phase = arrived < total ? `${Math.round((Date.now() - t0) / 1000)} s` : 'last steps';
    process.stdout.write(`progress ${phase}: ${arrived} shoppers, ${accepted}/${sent} messages accepted, ${pending.length} waiting for a connection, ${inFlight} requests in flight\n`);
  }, 1000);
  const pacer = setInterval(() => {
    const now = Date.now();
    const due = Math.min(total, Math.floor(((now - t0) * spec.shoppersPerSec) / 1000));
    for (; arrived < due; arrived++) enqueue(arrived, t0 + (arrived * 1000) / spec.shoppersPerSec);
    collectDue(now);
    flush(now, false);
  }, TICK_MS);
  while (arrived < total || queued() > 0) await sleep(50);
  clearInterval(pacer);
  const drainUntil = Date.now() + DRAIN_MS;
  while ((pending.length > 0 || inFlight > 0) && Date.now() < drainUntil) {
    flush(Date.now(), true);
    await sleep(TICK_MS);
  }
  // Rates are over the time messages were being sent (arrivals, then the visits' last steps).
  const seconds = (lastSendAt - t0) / 1000;
  const after = snapshot();
  clearInterval(ticker);
  let abandoners = 0;
  let buyers = 0;
  let incomplete = 0;
  for (let n = 0; n < total; n++) {
    if (failed[n] === 1 || acked[n] !== stepsOf[n]) incomplete++;
    else if (buyer[n] === 1) buyers++;
    else abandoners++;
  }
  const cpuSeconds: Record<string, number | null> = {};
  for (const name of Object.keys(after)) {
    const a = after[name];
    const b = before[name];
    cpuSeconds[name] = a === null || a === undefined || b === null || b === undefined ? null : a - b;
  }
  const sorted = latencies.sort((a, b) => a - b);
  const result: ShopperResult = {
    seconds,
    shoppers: total,
    abandoners,
    buyers,
    incomplete,
    messagesSent: sent,
    messagesAccepted: accepted,
    requests,
    errors,
    latencyP50Ms: percentile(sorted, 50),
    latencyP99Ms: percentile(sorted, 99),
    latencyMaxMs: sorted.at(-1) ?? NaN,
    maxBacklog,
    cpuSeconds,
  };
  process.stdout.write(`result ${JSON.stringify(result)}\n`);
  agent.destroy();
  process.exit(0);
}

main().catch((err: unknown) => {
  process.stderr.write(`shopper load failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});

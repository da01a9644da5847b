// Benchmark load generator: a separate process that loads an ingest endpoint over loopback, with
// N keep-alive HTTP connections (a minimal raw-socket client, one request in flight per connection) or N
// WebSockets (a window of frames in flight on each), closed loop (as fast as answers come back)
// or open loop at a fixed rate (latency then counts from the moment a request was due, so a
// queue in front of a slow server is measured, not hidden). Spec in BENCH_LOAD (JSON LoadSpec);
// prints `progress …` lines and one `result {LoadResult}` line, then exits. Exits when stdin
// ends (the harness is gone).
import net from 'node:net';
import WebSocket from 'ws';
import { buildBodies, contentType, percentile, type Body, type LoadResult, type LoadSpec } from '../support/ingest-load.js';
import { cpuSeconds } from '../support/processes.js';

const spec = JSON.parse(process.env.BENCH_LOAD ?? '{}') as LoadSpec;
process.stdin.on('end', () => process.exit(3));
process.stdin.resume();

const DRAIN_MS = 15_000;
/** Paced runs: at most this many requests queued per connection before due requests are skipped. */
const MAX_QUEUED_PER_CONNECTION = 64;

const bodies: Body[] = buildBodies(spec.body, spec.hitsPerRequest, spec.poolSize);
const auth = `Basic ${Buffer.from(`${spec.writeKey}:`).toString('base64')}`;

// ---- counters ----
let measuring = false;
let stopping = false;
let sent = 0;
let inFlight = 0;
let ackedHits = 0;
let skipped = 0;
let windowRequests = 0;
let windowHits = 0;
const errors: Record<string, number> = {};
let latencies = new Float64Array(1 << 16);
let latencyCount = 0;

function record(latencyMs: number): void {
  if (latencyCount === latencies.length) {
    const bigger = new Float64Array(latencies.length * 2);
    bigger.set(latencies);
    latencies = bigger;
  }
  latencies[latencyCount++] = latencyMs;
}

/** HTTP: the parts of each measured latency (late, queued, on the connection), in one growing array. */
let parts = new Float64Array(3 << 16);
let partCount = 0;

function recordParts(late: number, queued: number, onConnection: number): void {
  if (partCount + 3 > parts.length) {
    const bigger = new Float64Array(parts.length * 2);
    bigger.set(parts);
    parts = bigger;
  }
  parts[partCount++] = late;
  parts[partCount++] = queued;
  parts[partCount++] = onConnection;
}

function partP99(offset: number): number {
  const values = new Float64Array(partCount / 3);
  for (let i = 0; i < values.length; i++) values[i] = parts[i * 3 + offset] as number;
  return percentile(values.sort(), 99);
}

/** One answer: `ok` with its hits, or an error label; `started` is when it was sent (or due). */
function answered(ok: boolean, label: string, hits: number, started: number): void {
  inFlight--;
  if (ok) ackedHits += hits;
  if (!measuring) return;
  if (ok) {
    windowRequests++;
    windowHits += hits;
    record(performance.now() - started);
  } else errors[label] = (errors[label] ?? 0) + 1;
}

// ---- HTTP ----
// A minimal HTTP/1.1 keep-alive client on raw sockets: each request is one prebuilt buffer (head +
// body), each connection carries one request at a time (no pipelining) and requests wait in one
// FIFO queue for a free connection, as with a node:http Agent. It parses just the status line and
// the body framing (Content-Length or chunked). On a 2-core box the generator shares the CPU with
// the server it measures: node:http spends several times more CPU per request than this.
const frameHits = bodies.map((body) => body.bytes.toString('utf8'));
const requestBytes = bodies.map((body) =>
  Buffer.concat([
    Buffer.from(`POST ${spec.path} HTTP/1.1\r\nHost: ${spec.host}:${spec.port}\r\nContent-Type: ${contentType(spec.body)}\r\nContent-Length: ${body.bytes.length}\r\nAuthorization: ${auth}\r\nConnection: keep-alive\r\n\r\n`),
    body.bytes,
  ]),
);
const HEAD_END = Buffer.from('\r\n\r\n');

interface Job {
  index: number;
  /** When it was due (paced) or issued (closed loop): its latency counts from here. */
  started: number;
  /** When the generator issued it, and when it was written on a connection. */
  issued: number;
  sent: number;
  then: (() => void) | undefined;
}

/** The length of a complete response at the start of `data`, its status, or undefined while incomplete. */
function completeResponse(data: Buffer): { length: number; status: number } | undefined {
  const headEnd = data.indexOf(HEAD_END);
  if (headEnd < 0) return undefined;
  const head = data.subarray(0, headEnd).toString('latin1');
  const status = Number(head.slice(9, 12));
  const bodyStart = headEnd + 4;
  const length = /\r\ncontent-length:\s*(\d+)/i.exec(head);
  if (length) {
    const end = bodyStart + Number(length[1]);
    return data.length >= end ? { length: end, status } : undefined;
  }
  if (!/\r\ntransfer-encoding:\s*chunked/i.test(head)) return status === 204 || status === 304 ? { length: bodyStart, status } : undefined;
  let at = bodyStart;
  for (;;) {
    const lineEnd = data.indexOf('\r\n', at);
    if (lineEnd < 0) return undefined;
    const size = parseInt(data.subarray(at, lineEnd).toString('latin1'), 16);
    at = lineEnd + 2 + size + 2;
    if (data.length < at) return undefined;
    if (size === 0) return { length: at, status };
  }
}

class Connection {
  #socket: net.Socket | undefined;
  #job: Job | undefined;
  #data: Buffer = Buffer.alloc(0);

  get busy(): boolean {
    return this.#job !== undefined;
  }

  send(job: Job): void {
    job.sent = performance.now();
    this.#job = job;
    if (!this.#socket || this.#socket.destroyed) this.#connect();
    (this.#socket as net.Socket).write(requestBytes[job.index % requestBytes.length] as Buffer);
  }

  close(): void {
    this.#socket?.destroy();
  }

  #connect(): void {
    const socket = net.connect({ host: spec.host, port: spec.port, noDelay: true });
    this.#socket = socket;
    this.#data = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      this.#data = this.#data.length === 0 ? chunk : Buffer.concat([this.#data, chunk]);
      const response = completeResponse(this.#data);
      if (!response) return;
      this.#data = this.#data.subarray(response.length);
      this.#finish(response.status >= 200 && response.status < 300, String(response.status));
    });
    socket.on('error', (err: NodeJS.ErrnoException) => this.#finish(false, `network ${err.code ?? err.message}`));
    socket.on('close', () => {
      if (this.#socket === socket) this.#socket = undefined;
      this.#finish(false, 'network closed');
    });
  }

  #finish(ok: boolean, label: string): void {
    const job = this.#job;
    if (!job) return;
    this.#job = undefined;
    if (ok && measuring) recordParts(job.issued - job.started, job.sent - job.issued, performance.now() - job.sent);
    answered(ok, label, ok ? (bodies[job.index % bodies.length] as Body).hits : 0, job.started);
    job.then?.();
    if (this.busy) return; // `then` (closed loop) gave it the next request already
    const next = waiting.shift();
    if (next) this.send(next);
  }
}

const connections = Array.from({ length: spec.connections }, () => new Connection());
/** Requests due while every connection was busy (paced runs), oldest first. */
const waiting: Job[] = [];

function httpRequest(index: number, started: number, then?: () => void): void {
  sent++;
  inFlight++;
  const job: Job = { index, started, issued: performance.now(), sent: 0, then };
  const free = connections.find((connection) => !connection.busy);
  if (free) free.send(job);
  else waiting.push(job);
}

function httpClosedLoop(): void {
  let next = 0;
  const loop = (): void => {
    if (stopping) return;
    httpRequest(next++, performance.now(), loop);
  };
  for (let c = 0; c < spec.connections; c++) loop();
}

// ---- WebSocket ----
interface Stream {
  ws: WebSocket;
  started: Map<number, { at: number; hits: number }>;
}
let seq = 0;

function sendFrame(stream: Stream, started = performance.now()): void {
  const n = ++seq;
  const body = bodies[n % bodies.length] as Body;
  stream.started.set(n, { at: started, hits: body.hits });
  sent++;
  inFlight++;
  stream.ws.send(`{"seq":${n},"hits":${frameHits[n % bodies.length] as string}}`);
}

async function openStreams(onAnswer: (stream: Stream) => void): Promise<Stream[]> {
  const url = `ws://${spec.host}:${spec.port}${spec.path}?writeKey=${encodeURIComponent(spec.writeKey)}`;
  return Promise.all(
    Array.from({ length: spec.connections }, () => {
      const stream: Stream = { ws: new WebSocket(url, { perMessageDeflate: false }), started: new Map() };
      stream.ws.on('message', (data: Buffer) => {
        const answer = JSON.parse(data.toString()) as { ack?: number; nack?: number; error?: { code?: string } };
        const n = answer.ack ?? answer.nack;
        const entry = n === undefined ? undefined : stream.started.get(n);
        if (n === undefined || entry === undefined) return;
        stream.started.delete(n);
        answered(answer.ack !== undefined, answer.error?.code ?? 'nack', entry.hits, entry.at);
        onAnswer(stream);
      });
      stream.ws.on('close', () => {
        for (const entry of stream.started.values()) answered(false, 'ws closed', 0, entry.at);
        stream.started.clear();
      });
      return new Promise<Stream>((resolve, reject) => {
        stream.ws.once('open', () => resolve(stream));
        stream.ws.once('error', reject);
      });
    }),
  );
}

// ---- schedule ----
function snapshot(): { at: number; cpu: Record<string, number | null>; self: NodeJS.CpuUsage } {
  const cpu: Record<string, number | null> = {};
  for (const [name, pid] of Object.entries(spec.pids)) cpu[name] = cpuSeconds(pid);
  return { at: performance.now(), cpu, self: process.cpuUsage() };
}

function progressLine(): void {
  process.stdout.write(`progress ${measuring ? 'measuring' : stopping ? 'draining' : 'warming up'}: ${ackedHits} hits acked, ${inFlight} in flight\n`);
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function main(): Promise<void> {
  let streams: Stream[] = [];
  const t0 = performance.now();
  const ticker = setInterval(progressLine, 1000);
  const paced = spec.ratePerSec !== undefined && spec.ratePerSec > 0;
  if (spec.transport === 'ws') {
    streams = await openStreams((stream) => {
      if (!stopping && !paced) sendFrame(stream);
    });
  }
  let pacer: NodeJS.Timeout | undefined;
  if (paced) {
    // Open loop: request i is due at a fixed time, whatever happened to the ones before. The rate
    // ramps up from 10 % during the warm-up (a cold process would otherwise start with a queue
    // that the measured window inherits), then holds at R per second.
    const rate = spec.ratePerSec as number;
    const warm = spec.warmupMs / 1000;
    const start = performance.now();
    const dueBy = (t: number): number => (t >= warm ? rate * (0.55 * warm + (t - warm)) : rate * (0.1 * t + (0.45 * t * t) / warm));
    const rampRequests = rate * 0.55 * warm;
    let next = 0;
    const maxQueued = spec.connections * MAX_QUEUED_PER_CONNECTION;
    pacer = setInterval(() => {
      const now = performance.now();
      const due = Math.floor(dueBy((now - start) / 1000));
      for (; next < due && !stopping; next++) {
        // Latency counts from the due time once the rate holds (warm-up requests are not measured).
        const at = next >= rampRequests ? start + 1000 * (warm + (next - rampRequests) / rate) : now;
        if (inFlight >= maxQueued) {
          if (measuring) skipped++;
          continue;
        }
        if (spec.transport === 'ws') sendFrame(streams[next % streams.length] as Stream, at);
        else httpRequest(next, at);
      }
    }, 1);
  } else if (spec.transport === 'ws') {
    for (const stream of streams) for (let w = 0; w < spec.window; w++) sendFrame(stream);
  } else httpClosedLoop();

  await sleep(Math.max(0, spec.warmupMs - (performance.now() - t0)));
  const before = snapshot();
  measuring = true;
  await sleep(spec.durationMs);
  measuring = false;
  const after = snapshot();
  stopping = true;
  clearInterval(pacer);
  const drainUntil = performance.now() + DRAIN_MS;
  while (inFlight > 0 && performance.now() < drainUntil) await sleep(5);
  clearInterval(ticker);

  const seconds = (after.at - before.at) / 1000;
  const cpu: Record<string, number | null> = {};
  for (const name of Object.keys(spec.pids)) {
    const a = after.cpu[name];
    const b = before.cpu[name];
    cpu[name] = a === null || a === undefined || b === null || b === undefined ? null : a - b;
  }
  cpu.generator = (after.self.user + after.self.system - before.self.user - before.self.system) / 1e6;
  const sorted = latencies.subarray(0, latencyCount).sort();
  const result: LoadResult = {
    requests: windowRequests,
    hits: windowHits,
    seconds,
    errors,
    latencyP50Ms: percentile(sorted, 50),
    latencyP99Ms: percentile(sorted, 99),
    latencyMaxMs: sorted.length > 0 ? (sorted[sorted.length - 1] as number) : NaN,
    cpuSeconds: cpu,
    ackedHits,
    sent,
    unanswered: inFlight,
    skipped,
    ...(partCount > 0 ? { partsP99Ms: { late: partP99(0), queued: partP99(1), onConnection: partP99(2) } } : {}),
  };
  process.stdout.write(`result ${JSON.stringify(result)}\n`);
  for (const stream of streams) stream.ws.terminate();
  for (const connection of connections) connection.close();
  process.exit(0);
}

main().catch((err: unknown) => {
  process.stderr.write(`load generator failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});

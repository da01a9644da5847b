// Baseline "what most Node teams would build", its HTTP half: a node:http server taking Segment
// POST /v1/batch (Basic auth with the write key). Every "Product Added" stores the item in the
// visitor's cart hash and (re)schedules one BullMQ delayed job per visitor in debounce mode
// (deduplication id = visitor, delay = ttl = the inactivity, extend + replace: each add pushes
// the deadline back); "Checkout Started" and "Order Completed" remove the visitor's job and
// cart. Other events are acknowledged and dropped. Answers 200 once Redis has taken every write.
// Env: BENCH_REDIS_URL, BENCH_WRITE_KEY, BENCH_INACTIVITY_MS. Prints `listening <port>`; exits
// on SIGTERM or when stdin ends (the harness is gone). The worker half: bullmq-worker.ts.
import http from 'node:http';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { bullmqQueue, plainKeys } from '../scenarios/e2e-shop.js';

const env = process.env;
const url = new URL(env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379');
const inactivityMs = Number(env.BENCH_INACTIVITY_MS ?? 5000);
const expectedAuth = `Basic ${Buffer.from(`${env.BENCH_WRITE_KEY ?? ''}:`).toString('base64')}`;
const CART_TTL_S = 86_400;

const queue = new Queue(bullmqQueue, { connection: { host: url.hostname, port: Number(url.port) } });
const redis = new Redis(url.toString(), { connectionName: 'bullmq-api' });

interface SegmentMessage {
  event?: string;
  anonymousId?: string;
  userId?: string;
  timestamp?: string;
  properties?: { sku?: string; product_id?: string; price?: number; quantity?: number };
}

async function handle(message: SegmentMessage): Promise<void> {
  const visitorId = message.anonymousId ?? message.userId;
  if (visitorId === undefined) return;
  if (message.event === 'Product Added') {
    const code = message.properties?.sku ?? message.properties?.product_id;
    if (code === undefined) return;
    const cart = plainKeys.cart(visitorId);
    await Promise.all([
      redis.hset(cart, code, JSON.stringify({ sku: code, quantity: message.properties?.quantity ?? 1, price: message.properties?.price })),
      redis.expire(cart, CART_TTL_S),
      queue.add(
        'cart',
        { visitorId, userId: message.userId, lastHitAt: message.timestamp ? Date.parse(message.timestamp) : Date.now() },
        { delay: inactivityMs, deduplication: { id: visitorId, ttl: inactivityMs, extend: true, replace: true }, removeOnComplete: true, removeOnFail: 1000 },
      ),
    ]);
  } else if (message.event === 'Checkout Started' || message.event === 'Order Completed') {
    const jobId = await queue.getDeduplicationJobId(visitorId);
    await Promise.all([jobId ? queue.remove(jobId) : undefined, redis.del(plainKeys.cart(visitorId))]);
  }
}

function reply(res: http.ServerResponse, status: number, body: string): void {
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

const server = http.createServer((req, res) => {
  if (req.method !== 'POST' || req.url !== '/v1/batch') return reply(res, 404, '{"error":"not found"}');
  if (req.headers.authorization !== expectedAuth) return reply(res, 401, '{"error":"unknown write key"}');
  const chunks: Buffer[] = [];
  req.on('data', (chunk: Buffer) => chunks.push(chunk));
  req.on('end', () => {
    let body: { batch?: unknown };
    try {
      body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { batch?: unknown };
    } catch {
      return reply(res, 400, '{"error":"malformed JSON"}');
    }
    if (!Array.isArray(body.batch)) return reply(res, 400, '{"error":"batch must be an array"}');
    Promise.all((body.batch as SegmentMessage[]).map(handle)).then(
      () => reply(res, 200, '{"success":true}'),
      () => reply(res, 503, '{"error":"redis"}'),
    );
  });
});
server.keepAliveTimeout = 60_000;

function stop(): void {
  server.close();
  void queue.close().finally(() => {
    redis.disconnect();
    process.exit(0);
  });
}
process.on('SIGTERM', stop);
process.stdin.on('end', stop);
process.stdin.resume();

await queue.waitUntilReady();
server.listen(0, '127.0.0.1', () => {
  const address = server.address();
  process.stdout.write(`listening ${typeof address === 'object' && address ? address.port : 0}\n`);
});

// Baseline "what one would write by hand": a plain node:http server with one ioredis connection
// (its defaults) that takes POST /v1/hits (a JSON array of hits, Basic auth with the write key),
// XADDs every hit as its own entry (JSON text, one stream) and answers 200 once all the XADDs
// have resolved. No validation beyond "an array", no batching, no limits: the floor Rebound's
// ingest is compared with. Env: BENCH_REDIS_URL, BENCH_STREAM, BENCH_WRITE_KEY. Prints
// `listening <port>`; exits on SIGTERM or when stdin ends (the harness is gone).
import http from 'node:http';
import { Redis } from 'ioredis';

const env = process.env;
const stream = env.BENCH_STREAM ?? 'naive:hits';
const expectedAuth = `Basic ${Buffer.from(`${env.BENCH_WRITE_KEY ?? ''}:`).toString('base64')}`;
const redis = new Redis(env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379', { connectionName: 'naive-ingest' });

function reply(res: http.ServerResponse, status: number, body: string): void {
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

const server = http.createServer((req, res) => {
  if (req.method !== 'POST' || req.url !== '/v1/hits') return reply(res, 404, '{"error":"not found"}');
  if (req.headers.authorization !== expectedAuth) return reply(res, 401, '{"error":"unknown write key"}');
  const chunks: Buffer[] = [];
  req.on('data', (chunk: Buffer) => chunks.push(chunk));
  req.on('end', () => {
    let hits: unknown;
    try {
      hits = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    } catch {
      return reply(res, 400, '{"error":"malformed JSON"}');
    }
    if (!Array.isArray(hits)) return reply(res, 400, '{"error":"expected an array"}');
    Promise.all(hits.map((hit) => redis.xadd(stream, '*', 'd', JSON.stringify(hit)))).then(
      () => reply(res, 200, '{"success":true}'),
      () => reply(res, 503, '{"error":"redis"}'),
    );
  });
});
server.keepAliveTimeout = 60_000;

function stop(): void {
  server.close();
  redis.disconnect();
  process.exit(0);
}
process.on('SIGTERM', stop);
process.stdin.on('end', stop);
process.stdin.resume();

server.listen(0, '127.0.0.1', () => {
  const address = server.address();
  process.stdout.write(`listening ${typeof address === 'object' && address ? address.port : 0}\n`);
});

// The ceiling baseline: redis-benchmark appending to a stream on the same server, pipelined.
// redis-benchmark has no built-in XADD test (`-t xadd` is silently ignored), so the command is
// given explicitly, with a printable payload of the size of one of our entries.
import { spawnTracked } from './processes.js';

export interface XaddBaseline {
  requestsPerSec: number;
  p50Ms: number;
  p99Ms: number;
  payloadBytes: number;
  requests: number;
  args: string;
}

const TIMEOUT_MS = 90_000;

/** CSV output: a header line, then "test","rps","avg","min","p50","p95","p99","max". */
function parseCsv(stdout: string): { rps: number; p50: number; p99: number } {
  const last = stdout.trim().split(/[\r\n]+/).filter((l) => l.startsWith('"') && !l.startsWith('"test"')).pop();
  const fields = last?.match(/"([^"]*)"/g)?.map((f) => f.slice(1, -1));
  if (!fields || fields.length < 8) throw new Error(`unexpected redis-benchmark output:\n${stdout.slice(0, 500)}`);
  const n = fields.length;
  return { rps: Number(fields[n - 7]), p50: Number(fields[n - 4]), p99: Number(fields[n - 2]) };
}

export async function xaddBaseline(port: number, key: string, payloadBytes: number, requests: number, clients = 16, pipeline = 16): Promise<XaddBaseline> {
  const args = ['-p', String(port), '-n', String(requests), '-c', String(clients), '-P', String(pipeline), '--csv'];
  const command = ['XADD', key, '*', 'd', 'x'.repeat(payloadBytes)];
  const proc = spawnTracked('redis-benchmark', [...args, ...command]);
  const timer = setTimeout(() => void proc.stop(1000), TIMEOUT_MS);
  const code = await proc.exited;
  clearTimeout(timer);
  if (code !== 0) throw new Error(`redis-benchmark exited with ${code}:\n${proc.output().slice(-2000)}`);
  const { rps, p50, p99 } = parseCsv(proc.output());
  return {
    requestsPerSec: rps,
    p50Ms: p50,
    p99Ms: p99,
    payloadBytes,
    requests,
    args: `redis-benchmark ${args.join(' ')} XADD ${key} '*' d <${payloadBytes} B>`,
  };
}

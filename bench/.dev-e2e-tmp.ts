import { reboundCase } from './scenarios/e2e-cases.js';
import { startSmtpSink } from './scenarios/e2e-sink.js';
import { WRITE_KEY } from './scenarios/e2e-shop.js';
const rate = Number(process.env.RATE ?? 600), secs = Number(process.env.SECS ?? 15);
const sink = await startSmtpSink();
const ctx = { progress: (t: string) => process.stderr.write(t + '\r'), note: (t: string) => console.log(t), deadline: Date.now() + 600_000 };
const { result } = await reboundCase({ ctx, sink, say: ctx.progress, inactivityMs: 5000, spec: { path: '/v1/batch', body: 'segment-batch', writeKey: WRITE_KEY, shoppersPerSec: rate / 0.8, buyShare: 0.2, stepMs: 500, durationMs: secs * 1000, batchSize: 100, connections: 16, profiles: Number(process.env.PROFILES ?? 10000), products: 1000, seed: 1 } }, 250, 20000);
console.log(JSON.stringify({ ...result, load: { ...result.load, cpuSeconds: undefined } }, null, 0));
await sink.close(); process.exit(0);

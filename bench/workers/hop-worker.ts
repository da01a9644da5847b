// Benchmark worker: one stage "hop" (in → out) on the real stage runtime with production
// settings. BENCH_HOP_MODE=recode (default) passes the decoded value on, so each entry is decoded
// and encoded again as a stage that rewrites every hit would; =forward outputs the entry's bytes
// unchanged (still decoded once by the runtime), which measures the runtime's own cost. BENCH_LINGER
// sets `stages.linger` (e.g. 0ms). Prints "ready" once connected, starts reading only when "go" arrives on stdin (so
// that start-up is not timed), and drains on SIGTERM like `rebound start`, or when stdin ends.
import { createInterface } from 'node:readline';
import { bootstrap, exitOnSignals } from '../../src/core/bootstrap.js';
import { parseConfig } from '../../src/core/config.js';
import { createLogger } from '../../src/core/log.js';
import { startStages } from '../../src/stages/runtime/run-stages.js';
import { succeed, type StageDefinition } from '../../src/stages/runtime/stage.js';

const env = process.env;

const hop: StageDefinition<unknown> = {
  name: 'hop',
  input: 'in',
  process: async (items) =>
    env.BENCH_HOP_MODE === 'forward'
      ? items.map((item) => succeed([{ stream: 'out', value: item.data }]))
      : items.map((item) => succeed([{ stream: 'out', value: item.value }])),
};

const config = parseConfig({
  prefix: env.BENCH_PREFIX,
  partitions: Number(env.BENCH_PARTITIONS ?? 16),
  instance: `hop-worker-${process.pid}`,
  redis: { url: env.BENCH_REDIS_URL },
  stages: { batchSize: Number(env.BENCH_BATCH ?? 100), maxInFlight: Number(env.BENCH_IN_FLIGHT ?? 8), ...(env.BENCH_LINGER ? { linger: env.BENCH_LINGER } : {}) },
  shutdownTimeout: '10s',
});
const logger = createLogger(env.BENCH_LOG_LEVEL ?? 'warn', process.stderr);
const runtime = await bootstrap(config, logger);
exitOnSignals(runtime.lifecycle, config.shutdownTimeout, logger);

// stdin stays open while the harness lives: its end (harness gone, even by SIGKILL) drains us.
const lines = createInterface({ input: process.stdin });
lines.once('close', () => process.kill(process.pid, 'SIGTERM'));
lines.once('line', () => {
  void startStages(runtime, [hop] as StageDefinition<never>[]).then(
    () => process.stdout.write('started\n'),
    (err: unknown) => {
      logger.error({ err: (err as Error).message }, 'cannot start the stage');
      process.exit(1);
    },
  );
});
process.stdout.write('ready\n');

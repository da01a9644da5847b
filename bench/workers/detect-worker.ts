// Benchmark worker: the detect role (stage + timers) on the real runtime with production
// settings. Prints "ready" once connected, starts only when "go" arrives on stdin (start-up is
// not timed), drains on SIGTERM like `rebound start`, or when stdin ends (harness gone).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { bootstrap, exitOnSignals } from '../../src/core/bootstrap.js';
import { parseConfig } from '../../src/core/config.js';
import { createLogger } from '../../src/core/log.js';
import { startDetect } from '../../src/stages/detect/role.js';
import { AllocationSampler } from '../support/alloc-profile.js';

const env = process.env;
const config = parseConfig({
  prefix: env.BENCH_PREFIX,
  partitions: Number(env.BENCH_PARTITIONS ?? 16),
  instance: `detect-worker-${process.pid}`,
  redis: { url: env.BENCH_REDIS_URL },
  shutdownTimeout: '10s',
  // BENCH_SERVED="all" or "0,2,4": stages.partitions (default: shared with the other workers).
  ...(env.BENCH_SERVED ? { stages: { partitions: env.BENCH_SERVED === 'all' ? 'all' : env.BENCH_SERVED.split(',').map(Number) } } : {}),
});
const logger = createLogger(env.BENCH_LOG_LEVEL ?? 'warn', process.stderr);
const runtime = await bootstrap(config, logger);
exitOnSignals(runtime.lifecycle, config.shutdownTimeout, logger);

// BENCH_ALLOC_PROF=<dir>: bytes allocated by site from "go" until the worker stops, per hit of
// BENCH_ALLOC_HITS, written to <dir>/alloc-<pid>.txt (registered first, so it runs after the drain);
// with BENCH_ALLOC_SURVIVORS=1, only the objects that lived through a scavenge.
const allocDir = env.BENCH_ALLOC_PROF;
const sampler = allocDir ? new AllocationSampler() : undefined;
if (allocDir && sampler) {
  runtime.lifecycle.onShutdown('allocation profile', async () => {
    writeFileSync(join(allocDir, `alloc-${process.pid}.txt`), await sampler.stop(Number(env.BENCH_ALLOC_HITS ?? 1), 'hit', 40));
  });
}

const lines = createInterface({ input: process.stdin });
lines.once('close', () => process.kill(process.pid, 'SIGTERM'));
lines.once('line', async () => {
  await sampler?.start(env.BENCH_ALLOC_SURVIVORS === '1');
  void startDetect(runtime).then(
    () => process.stdout.write('started\n'),
    (err: unknown) => {
      logger.error({ err: (err as Error).message }, 'cannot start detect');
      process.exit(1);
    },
  );
});
process.stdout.write('ready\n');

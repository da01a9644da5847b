// Benchmark worker: the campaign role (stage + waiting jobs) on the real runtime with production
// settings, except the datamart cache sizes, which the scenario sets (BENCH_PROFILE_CACHE_MAX,
// BENCH_RESOURCE_CACHE_MAX) to choose the cache hit ratio. Prints "ready" once connected, starts
// the role when "go" arrives on stdin (start-up is not timed); each later line "stats <n>" is
// answered with "stats <n> <json>": the cache request counters and the stage's batch histogram
// so far. Drains on SIGTERM like `rebound start`, or when stdin ends (harness gone).
import { createInterface } from 'node:readline';
import { bootstrap, exitOnSignals } from '../../src/core/bootstrap.js';
import { parseConfig } from '../../src/core/config.js';
import { createLogger } from '../../src/core/log.js';
import { metricsRegistry } from '../../src/core/metrics.js';
import { startCampaign } from '../../src/stages/campaign/role.js';

const env = process.env;
const cacheMax = (value: string | undefined): { max: number } | Record<string, never> => (value ? { max: Number(value) } : {});
const config = parseConfig({
  prefix: env.BENCH_PREFIX,
  partitions: Number(env.BENCH_PARTITIONS ?? 16),
  instance: `campaign-worker-${process.pid}`,
  redis: { url: env.BENCH_REDIS_URL },
  campaign: { profileCache: cacheMax(env.BENCH_PROFILE_CACHE_MAX), resourceCache: cacheMax(env.BENCH_RESOURCE_CACHE_MAX) },
  shutdownTimeout: '10s',
});
const logger = createLogger(env.BENCH_LOG_LEVEL ?? 'warn', process.stderr);
const runtime = await bootstrap(config, logger);
exitOnSignals(runtime.lifecycle, config.shutdownTimeout, logger);

/** The metrics the scenario reads: cache requests by cache and result, batch durations. */
async function stats(): Promise<Record<string, unknown>> {
  const wanted = ['rebound_cache_requests_total', 'rebound_stage_seconds'];
  const found: Record<string, unknown> = {};
  for (const name of wanted) found[name] = (await metricsRegistry.getSingleMetric(name)?.get())?.values ?? [];
  return found;
}

const lines = createInterface({ input: process.stdin });
lines.once('close', () => process.kill(process.pid, 'SIGTERM'));
let started = false;
lines.on('line', (line) => {
  const [command, token = ''] = line.trim().split(/\s+/);
  if (command === 'stats') {
    void stats().then((found) => process.stdout.write(`stats ${token} ${JSON.stringify(found)}\n`));
    return;
  }
  if (started) return;
  started = true;
  void startCampaign(runtime).then(
    () => process.stdout.write('started\n'),
    (err: unknown) => {
      logger.error({ err: (err as Error).message }, 'cannot start campaign');
      process.exit(1);
    },
  );
});
process.stdout.write('ready\n');

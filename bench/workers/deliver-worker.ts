// Benchmark worker of the "deliver" scenario. BENCH_DELIVER_MODE=deliver (default): the deliver
// role with production settings and channels from BENCH_SMTP_URL / BENCH_SMPP_URL; prints
// "ready" once connected, starts only when "go" arrives on stdin (start-up is not timed), drains
// on SIGTERM or when stdin ends. =channel: the baseline, the same SMTP channel (nodemailer pool,
// same settings) sending BENCH_COUNT emails straight to the sink with no Redis, no claims and no
// records, BENCH_CONCURRENCY sends in flight; prints "done <ms> failed <n> cpu <seconds>".
import { createInterface } from 'node:readline';
import { createChannels } from '../../src/channels/create-channels.js';
import { bootstrap, exitOnSignals } from '../../src/core/bootstrap.js';
import { parseConfig } from '../../src/core/config.js';
import { createLogger } from '../../src/core/log.js';
import type { OutboxMessage } from '../../src/model/message.js';
import { startDeliver } from '../../src/stages/deliver/role.js';

const env = process.env;
const connections = Number(env.BENCH_SMTP_CONNECTIONS ?? 8);

async function baseline(): Promise<void> {
  const count = Number(env.BENCH_COUNT ?? 10_000);
  const template = JSON.parse(env.BENCH_MESSAGE ?? '{}') as OutboxMessage;
  const config = parseConfig({ deliver: { smtp: { url: env.BENCH_SMTP_URL, pool: { maxConnections: connections, maxMessages: 1_000_000 } } } });
  const { email } = createChannels(config.deliver, '.', createLogger('warn', process.stderr));
  const lines = createInterface({ input: process.stdin });
  process.stdout.write('ready\n');
  await new Promise((resolve) => lines.once('line', resolve));
  const started = performance.now();
  const cpuBefore = process.cpuUsage();
  let next = 0;
  let failed = 0;
  const sender = async (): Promise<void> => {
    while (next < count) {
      const i = next++;
      if (!(await email.send({ ...template, id: `base-${i}` })).ok) failed++;
    }
  };
  await Promise.all(Array.from({ length: Number(env.BENCH_CONCURRENCY ?? 64) }, sender));
  const cpu = process.cpuUsage(cpuBefore);
  process.stdout.write(`done ${performance.now() - started} failed ${failed} cpu ${(cpu.user + cpu.system) / 1e6}\n`);
  await email.close();
  process.exit(0);
}

async function deliver(): Promise<void> {
  const config = parseConfig({
    prefix: env.BENCH_PREFIX,
    partitions: Number(env.BENCH_PARTITIONS ?? 16),
    instance: `deliver-worker-${process.pid}`,
    dataDir: env.BENCH_DATA_DIR ?? '.rebound-bench',
    redis: { url: env.BENCH_REDIS_URL },
    deliver: {
      smtp: { url: env.BENCH_SMTP_URL ?? null, pool: { maxConnections: connections, maxMessages: 1_000_000 } },
      smpp: { url: env.BENCH_SMPP_URL ?? null },
    },
    shutdownTimeout: '10s',
  });
  const logger = createLogger(env.BENCH_LOG_LEVEL ?? 'warn', process.stderr);
  const runtime = await bootstrap(config, logger);
  exitOnSignals(runtime.lifecycle, config.shutdownTimeout, logger);
  const channels = createChannels(config.deliver, config.dataDir, logger);
  const lines = createInterface({ input: process.stdin });
  lines.once('close', () => process.kill(process.pid, 'SIGTERM'));
  lines.once('line', () => {
    void startDeliver(runtime, channels).then(
      () => process.stdout.write('started\n'),
      (err: unknown) => {
        logger.error({ err: (err as Error).message }, 'cannot start deliver');
        process.exit(1);
      },
    );
  });
  process.stdout.write('ready\n');
}

await (env.BENCH_DELIVER_MODE === 'channel' ? baseline() : deliver());

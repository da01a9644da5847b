// A test deliver worker process: the deliver role with channels from the configuration, started
// and drained exactly as `rebound start --roles deliver` does. Settings come from TEST_* variables.
import { createChannels } from '../../src/channels/create-channels.js';
import { bootstrap, exitOnSignals } from '../../src/core/bootstrap.js';
import { parseConfig } from '../../src/core/config.js';
import { createLogger } from '../../src/core/log.js';
import { startDeliver } from '../../src/stages/deliver/role.js';

const env = process.env;
const config = parseConfig({
  prefix: env.TEST_PREFIX,
  partitions: Number(env.TEST_PARTITIONS ?? 4),
  dataDir: env.TEST_DATA_DIR ?? '.rebound-test',
  redis: { url: env.TEST_REDIS_URL },
  stages: { batchSize: Number(env.TEST_BATCH ?? 25), maxInFlight: Number(env.TEST_MAX_IN_FLIGHT ?? 4), claimIdle: env.TEST_CLAIM_IDLE ?? '1s', recoverEvery: '250ms', idlePoll: '10ms' },
  deliver: {
    smtp: { url: env.TEST_SMTP_URL, pool: { maxConnections: Number(env.TEST_SMTP_CONNECTIONS ?? 4) } },
    concurrency: { email: Number(env.TEST_CONCURRENCY ?? 32) },
    sendTimeout: '2s',
    retry: { base: '100ms', max: '400ms' },
    retryEvery: '50ms',
  },
  shutdownTimeout: '10s',
});
const logger = createLogger(env.TEST_LOG_LEVEL ?? 'warn', process.stderr);
const runtime = await bootstrap(config, logger);
exitOnSignals(runtime.lifecycle, config.shutdownTimeout, logger);
await startDeliver(runtime, createChannels(config.deliver, config.dataDir, logger));
process.stdout.write('ready\n');

// `rebound status`: the pipeline at a glance (SPEC §9). Streams, dead letters and timers are read
// from Redis; rates, latencies over the last minute, failures and work in flight come from the
// /status of every live process in the process registry. `--json` prints the same as JSON.
import { loadConfig } from '../core/config.js';
import { Keys } from '../core/redis/keys.js';
import { connectForCommand } from './connect.js';
import { formatReport, useColor } from './status-format.js';
import { statusReport } from './status-report.js';

export async function status(options: { json?: boolean; config?: string }): Promise<void> {
  const config = loadConfig(options.config === undefined ? {} : { file: options.config });
  const redis = await connectForCommand(config);
  try {
    const report = await statusReport(redis, new Keys(config.prefix, config.partitions), config);
    const text = options.json ? JSON.stringify(report) : formatReport(report, { color: useColor(), claimIdleMs: config.stages.claimIdle });
    process.stdout.write(`${text}\n`);
  } finally {
    await redis.close();
  }
}

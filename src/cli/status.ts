// `rebound status`: per stream and consumer group, length, lag, pending, oldest pending age and
// consumers, and the dead-letter streams; `--json` prints the same as JSON.
import { loadConfig } from '../core/config.js';
import { formatDuration } from '../core/duration.js';
import { Keys } from '../core/redis/keys.js';
import { pipelineStats, type PipelineStats } from '../stages/runtime/stream-stats.js';
import { connectForCommand } from './connect.js';

export function formatStats(stats: PipelineStats): string {
  const header = ['stream', 'group', 'length', 'lag', 'pending', 'oldest pending', 'consumers'];
  const rows = stats.groups.map((g) => [g.stream, g.group, String(g.length), String(g.lag), String(g.pending), g.pending > 0 ? formatDuration(g.oldestPendingMs) : '-', String(g.consumers)]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => (row[i] as string).length)));
  const line = (cells: string[]): string => cells.map((cell, i) => cell.padEnd(widths[i] as number)).join('  ').trimEnd();
  const lines = [line(header), ...rows.map(line)];
  if (rows.length === 0) lines.push('(no streams yet)');
  const dead = stats.deadLetters.filter((d) => d.entries > 0);
  lines.push('', dead.length === 0 ? 'dead letters: none' : `dead letters: ${dead.map((d) => `${d.stream} ${d.entries}`).join(', ')}`);
  return lines.join('\n');
}

export async function status(options: { json?: boolean; config?: string }): Promise<void> {
  const config = loadConfig(options.config === undefined ? {} : { file: options.config });
  const redis = await connectForCommand(config);
  try {
    const stats = await pipelineStats(redis, new Keys(config.prefix, config.partitions));
    process.stdout.write(`${options.json ? JSON.stringify(stats) : formatStats(stats)}\n`);
  } finally {
    await redis.close();
  }
}

#!/usr/bin/env -S node --max-semi-space-size=32
// The `rebound` command line. Exit codes: 0 clean stop, 1 runtime failure, 2 bad configuration
// or missing prerequisite (the message names the key or the prerequisite).
import { Command } from 'commander';
import { isReboundError } from '../core/errors.js';
import { apply } from './apply.js';
import { demo } from './demo.js';
import { dlqList, dlqPurge, dlqReplay } from './dlq.js';
import { registerImport } from './import.js';
import { start } from './start.js';
import { status } from './status.js';

const exitCodeOf = (err: unknown): number =>
  isReboundError(err) && ['CONFIG_INVALID', 'CONFIG_FILE_UNREADABLE', 'CLI_ROLE_UNKNOWN', 'REDIS_UNAVAILABLE', 'REDIS_BINARY_MISSING', 'REDIS_EMBEDDED_FAILED', 'ADMIN_UNREACHABLE', 'ADMIN_UNAUTHORIZED', 'ADMIN_QUERY_INVALID', 'IMPORT_FILE_UNREADABLE', 'RESOURCE_UNKNOWN', 'DEMO_NOT_READY', 'DEMO_INGEST_FAILED'].includes(err.code) ? 2 : 1;

function fail(err: unknown): never {
  const text = isReboundError(err) ? `rebound: ${err.code}: ${err.message}` : `rebound: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`;
  process.stderr.write(`${text}\n`);
  process.exit(exitCodeOf(err));
}

const program = new Command('rebound')
  .description('Real-time behavioural triggers on Redis Streams: analytics hits in, emails and SMS out.')
  .showHelpAfterError();

program
  .command('start')
  .description('run Rebound: every available role, or those given with --roles (embedded Redis when none is configured)')
  .option('--roles <list>', 'comma-separated roles: ingest, detect, campaign, deliver, admin')
  .option('--config <file>', 'configuration file (default $REBOUND_CONFIG or config/rebound.yaml)')
  .action((options: { roles?: string; config?: string }) => start(options).catch(fail));

program
  .command('status')
  .description('the pipeline at a glance: per stream and consumer group lag, pending, oldest pending age; dead letters, timers, rates and latencies of the live processes; warnings in colour (NO_COLOR)')
  .option('--json', 'print JSON instead of a table')
  .option('--config <file>', 'configuration file (default $REBOUND_CONFIG or config/rebound.yaml)')
  .action((options: { json?: boolean; config?: string }) => status(options).catch(fail));

program
  .command('apply')
  .description('apply definitions from a YAML file or a folder of them (templates as files next to the YAML): all are validated first, then applied all or nothing')
  .requiredOption('-f, --file <path>', 'a YAML file or a folder of YAML files')
  .option('--admin-url <url>', 'admin API base URL (default from admin.host/admin.port, REBOUND_ADMIN_HOST/_PORT)')
  .option('--token <token>', 'admin API token (default REBOUND_ADMIN_TOKEN, else <dataDir>/admin-token)')
  .option('--dry-run', 'print what would be created, changed, unchanged and deleted, change nothing')
  .option('--prune', 'also delete the stored definitions that the bundle does not contain')
  .option('--config <file>', 'configuration file (default $REBOUND_CONFIG or config/rebound.yaml)')
  .action((options: { file: string; adminUrl?: string; token?: string; dryRun?: boolean; prune?: boolean; config?: string }) => apply(options).catch(fail));

const dlq = program.command('dlq').description('dead letters: entries a stage gave up on (list, replay after a fix, purge)');
const dlqOptions = (command: Command): Command =>
  command
    .option('--stream <name>', 'only the dead letters of this stream (hits, fired, out:email, …)')
    .option('--json', 'print JSON')
    .option('--config <file>', 'configuration file (default $REBOUND_CONFIG or config/rebound.yaml)');
dlqOptions(dlq.command('list').description('list dead letters, oldest first, with their error').option('--limit <n>', 'at most this many (default 100)')).action((options) => dlqList(options).catch(fail));
dlqOptions(dlq.command('replay').description('put dead letters back on their stream (all, or the ids given as listed)').argument('[ids...]', 'dead letter ids as listed')).action((ids: string[], options) => dlqReplay(ids, options).catch(fail));
dlqOptions(dlq.command('purge').description('delete dead letters for good (the ids given, or --all)').argument('[ids...]', 'dead letter ids as listed').option('--all', 'every dead letter (of --stream when given)')).action((ids: string[], options) => dlqPurge(ids, options).catch(fail));

registerImport(program, fail);

program
  .command('demo')
  .description('simulated shoppers of the demo shop sent through the Segment API of a running Rebound (some browse, search, abandon a cart, buy, identify late), with the hits sent, triggers fired and messages sent (fire → outbox latency) printed live')
  .option('--duration <duration>', 'how long new shoppers arrive (default 60s)')
  .option('--rate <n>', 'new shoppers a second (default 5)')
  .option('--watch <duration>', 'how long to go on watching after the last arrival (default the longest trigger inactivity + 10s)')
  .option('--ingest-url <url>', 'ingest API base URL (default from ingest.host/ingest.port, REBOUND_INGEST_HOST/_PORT)')
  .option('--write-key <key>', 'write key of the source (default the first key of the stored source)')
  .option('--source <id>', 'the demo source (default shop-web)')
  .option('--config <file>', 'configuration file (default $REBOUND_CONFIG or config/rebound.yaml)')
  .action((options: { duration?: string; rate?: string; watch?: string; ingestUrl?: string; writeKey?: string; source?: string; config?: string }) => demo(options).catch(fail));

program.parseAsync().catch(fail);

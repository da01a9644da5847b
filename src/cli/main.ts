#!/usr/bin/env node
// The `rebound` command line. Exit codes: 0 clean stop, 1 runtime failure, 2 bad configuration
// or missing prerequisite (the message names the key or the prerequisite).
import { Command } from 'commander';
import { isReboundError } from '../core/errors.js';
import { start } from './start.js';
import { status } from './status.js';

const exitCodeOf = (err: unknown): number =>
  isReboundError(err) && ['CONFIG_INVALID', 'CONFIG_FILE_UNREADABLE', 'CLI_ROLE_UNKNOWN', 'REDIS_UNAVAILABLE', 'REDIS_BINARY_MISSING', 'REDIS_EMBEDDED_FAILED'].includes(err.code) ? 2 : 1;

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
  .description('the pipeline at a glance: per stream and consumer group, length, lag, pending, oldest pending age, consumers')
  .option('--json', 'print JSON instead of a table')
  .option('--config <file>', 'configuration file (default $REBOUND_CONFIG or config/rebound.yaml)')
  .action((options: { json?: boolean; config?: string }) => status(options).catch(fail));

program.parseAsync().catch(fail);

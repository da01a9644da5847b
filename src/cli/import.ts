// `rebound import profiles|catalog FILE` and `rebound import resource NAME FILE` (SPEC §1): bulk
// upsert of an NDJSON file into the datamart, with a progress bar on a terminal (a final line
// otherwise), the accepted/rejected counts, and rejected lines in `FILE.rejects`. Rejected lines
// do not fail the command (exit 0: they are reported); a missing file or resource exits 2.
import { SingleBar } from 'cli-progress';
import type { Command } from 'commander';
import { loadConfig } from '../core/config.js';
import type { ReboundConfig } from '../core/config-schema.js';
import type { RedisPort } from '../core/redis/client.js';
import { Keys } from '../core/redis/keys.js';
import { importFileSize, importNdjson, type ImportProgress, type ImportSummary, type ImportTarget } from '../model/ndjson-import.js';
import { parseProfile, type Profile } from '../model/profile.js';
import { ProfileStore } from '../model/profile-store.js';
import { requireResource, upsertRows } from '../model/resource-store.js';
import { parseResourceRow, type ResourceDefinition, type ResourceRow } from '../model/resource.js';
import { connectForCommand } from './connect.js';

interface ImportOptions {
  config?: string;
}

function profilesTarget(redis: RedisPort, keys: Keys, config: Readonly<ReboundConfig>): ImportTarget<Profile> {
  const store = new ProfileStore(redis, keys, config.campaign.indexedFields);
  return { parse: (raw) => parseProfile(raw), write: (rows) => store.upsert(rows) };
}

function rowsTarget(redis: RedisPort, keys: Keys, resource: ResourceDefinition): ImportTarget<{ key: string; row: ResourceRow }> {
  return { parse: (raw) => parseResourceRow(resource, raw, `${resource.id} row`), write: (rows) => upsertRows(redis, keys, resource.id, rows) };
}

/** A progress bar on a terminal; nothing otherwise (the final line says it all). */
function progressBar(what: string, totalBytes: number): { update(p: ImportProgress): void; stop(): void } {
  if (!process.stderr.isTTY) return { update: () => {}, stop: () => {} };
  const bar = new SingleBar({ stream: process.stderr, format: `importing ${what} [{bar}] {percentage}% | {accepted} accepted, {rejected} rejected`, hideCursor: true });
  bar.start(Math.max(totalBytes, 1), 0, { accepted: 0, rejected: 0 });
  return {
    update: (p) => bar.update(p.bytesRead, { accepted: p.accepted, rejected: p.rejected }),
    stop: () => bar.stop(),
  };
}

export function summaryLine(what: string, file: string, summary: ImportSummary): string {
  const rejected = summary.rejectsFile === undefined ? '0 rejected' : `${summary.rejected} rejected (see ${summary.rejectsFile})`;
  return `imported ${what} from ${file}: ${summary.accepted} accepted, ${rejected}`;
}

async function runImport(what: string, file: string, options: ImportOptions, resourceName?: string): Promise<void> {
  const config = loadConfig(options.config === undefined ? {} : { file: options.config });
  const totalBytes = await importFileSize(file);
  const redis = await connectForCommand(config);
  try {
    const keys = new Keys(config.prefix, config.partitions);
    const target = resourceName === undefined ? profilesTarget(redis, keys, config) : rowsTarget(redis, keys, await requireResource(redis, keys, resourceName));
    const bar = progressBar(what, totalBytes);
    let summary: ImportSummary;
    try {
      summary = await importNdjson<unknown>(file, target as ImportTarget<unknown>, { onProgress: (p) => bar.update(p) });
    } finally {
      bar.stop();
    }
    process.stdout.write(`${summaryLine(what, file, summary)}\n`);
  } finally {
    await redis.close();
  }
}

/** Adds `rebound import` and its three forms to the program. */
export function registerImport(program: Command, fail: (err: unknown) => never): void {
  const command = program.command('import').description('bulk upsert of an NDJSON file into the datamart: profiles, the catalog or a resource table');
  const config = ['--config <file>', 'configuration file (default $REBOUND_CONFIG or config/rebound.yaml)'] as const;
  command
    .command('profiles')
    .description('import profiles (one JSON object per line, `id` required); rejected lines go to FILE.rejects')
    .argument('<file>', 'NDJSON file')
    .option(...config)
    .action((file: string, options: ImportOptions) => runImport('profiles', file, options).catch(fail));
  command
    .command('catalog')
    .description('import catalog rows (keyed by `sku`); rejected lines go to FILE.rejects')
    .argument('<file>', 'NDJSON file')
    .option(...config)
    .action((file: string, options: ImportOptions) => runImport('catalog', file, options, 'catalog').catch(fail));
  command
    .command('resource')
    .description('import rows of a resource declared with kind: Resource (keyed by its `key` field); rejected lines go to FILE.rejects')
    .argument('<name>', 'resource name')
    .argument('<file>', 'NDJSON file')
    .option(...config)
    .action((name: string, file: string, options: ImportOptions) => runImport(`resource ${name}`, file, options, name).catch(fail));
}

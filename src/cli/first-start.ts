// First start (SPEC §1): `rebound start` on embedded defaults applies the demo shop of
// `demo.definitions` (config/definitions/) to an installation that has no definitions yet, so the
// demo works at once; never again after, so a restart keeps the operator's changes. The YAML is
// validated whole and applied all or nothing by the admin API's own apply (applyBundle), then the
// NDJSON files are imported line by line as `rebound import` does. A marker field in the
// installation's meta hash records the outcome: `applying` (set before anything is written, so a
// start interrupted half-way finishes the job at the next start; both steps are idempotent),
// `applied` or `skipped` (definitions existed before).
import { existsSync, readdirSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { applyBundle, type ApplyResult } from '../admin/apply.js';
import type { Runtime } from '../core/bootstrap.js';
import { ReboundError, isReboundError } from '../core/errors.js';
import { checkBundle } from '../model/bundle-check.js';
import { loadBundle } from '../model/bundle-files.js';
import { DefinitionsInvalid, formatIssue, type DefinitionIssue } from '../model/definition-issues.js';
import { importNdjson, type ImportTarget } from '../model/ndjson-import.js';
import { ProfileStore } from '../model/profile-store.js';
import { parseProfile } from '../model/profile.js';
import { requireResource, upsertRows } from '../model/resource-store.js';
import { parseResourceRow } from '../model/resource.js';

export type FirstStartDeps = Pick<Runtime, 'config' | 'redis' | 'keys' | 'logger'>;

/** The field of `keys.meta()` holding the first start's outcome. */
export const firstStartField = 'firstStart';

export interface ImportedFile {
  file: string;
  /** `profiles` or the resource name. */
  target: string;
  accepted: number;
  rejected: number;
  rejectsFile?: string;
}

export type FirstStartResult = { applied: true; dir: string; definitions: ApplyResult; imports: ImportedFile[] } | { applied: false; reason: string };

/** The package root (two levels above src/cli or dist/cli), where `config/` ships. */
const packageRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/** `demo.definitions` as a folder: absolute as given; relative from the working directory, else from the package. */
export function definitionsDir(configured: string): string {
  if (isAbsolute(configured)) return configured;
  const fromCwd = resolve(configured);
  return existsSync(fromCwd) ? fromCwd : resolve(packageRoot, configured);
}

/** Called by `rebound start` once Redis is up and before any role starts. */
export async function firstStart(deps: FirstStartDeps): Promise<FirstStartResult> {
  const { config } = deps;
  if (config.redis.url || config.redis.cluster.length > 0) return { applied: false, reason: 'Redis is configured: only embedded defaults get the demo' };
  if (!config.demo.firstStart) return { applied: false, reason: 'demo.firstStart is false' };
  return applyDefinitionsOnce(deps, definitionsDir(config.demo.definitions));
}

/** Applies `dir` unless this installation did (or skipped) it before; see the header for the marker. */
export async function applyDefinitionsOnce(deps: FirstStartDeps, dir: string): Promise<FirstStartResult> {
  const { redis, keys, logger } = deps;
  const state = await redis.hget(keys.meta(), firstStartField);
  if (state !== null && !state.startsWith('applying')) return { applied: false, reason: `handled at an earlier start (${state})` };
  const stamp = (what: string): Promise<void> => redis.hset(keys.meta(), firstStartField, `${what} ${new Date().toISOString()}`);
  if (state === null) {
    if (((await redis.get(keys.definitionsVersion())) ?? '0') !== '0') {
      await stamp('skipped');
      return { applied: false, reason: 'the installation has definitions already' };
    }
    if (!existsSync(dir)) {
      logger.warn({ dir }, 'first start: no definitions folder, starting without definitions (demo.definitions)');
      return { applied: false, reason: `${dir} does not exist` };
    }
    await stamp('applying');
  }
  const result = await applyFolder(deps, dir);
  await stamp('applied');
  logger.info(summaryFields(result), summaryLine(result));
  for (const file of result.imports.filter((f) => f.rejectsFile !== undefined)) {
    logger.warn({ file: file.file, rejected: file.rejected, rejectsFile: file.rejectsFile }, 'first start: some lines were rejected');
  }
  return result;
}

/** Validates and applies the YAML of `dir` all or nothing, then imports its NDJSON files. */
export async function applyFolder(deps: FirstStartDeps, dir: string): Promise<Extract<FirstStartResult, { applied: true }>> {
  const { config, redis, keys } = deps;
  const bundle = loadBundle(dir);
  const issues = [...bundle.issues, ...checkBundle(bundle.documents).issues];
  if (issues.length > 0) throw invalidFolder(dir, issues);
  let definitions: ApplyResult;
  try {
    definitions = await applyBundle({ redis, keys, now: Date.now(), smsMaxSegments: config.campaign.smsMaxSegments }, bundle.documents, { dryRun: false, prune: false });
  } catch (err) {
    if (err instanceof DefinitionsInvalid) throw invalidFolder(dir, err.issues);
    throw err;
  }
  const imports: ImportedFile[] = [];
  for (const file of ndjsonFiles(dir)) imports.push(await importFile(deps, file));
  return { applied: true, dir, definitions, imports };
}

function invalidFolder(dir: string, issues: readonly DefinitionIssue[]): ReboundError {
  const lines = issues.map((issue) => `  ${formatIssue(issue)}`).join('\n');
  return new ReboundError('CONFIG_INVALID', `demo.definitions: ${dir} has ${issues.length} problem${issues.length === 1 ? '' : 's'}; nothing was applied:\n${lines}`, { path: 'demo.definitions' });
}

/** The `.ndjson` files directly in `dir`, in name order. */
function ndjsonFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith('.ndjson'))
    .map((entry) => join(dir, entry.name))
    .sort();
}

/** `profiles.ndjson` → profiles; `<name>.ndjson` → rows of resource `<name>` (declared, or the catalog). */
async function importFile({ config, redis, keys }: FirstStartDeps, file: string): Promise<ImportedFile> {
  const name = basename(file, '.ndjson');
  const run = <T>(target: ImportTarget<T>) => importNdjson(file, target, { rejectsFile: join(config.dataDir, `${basename(file)}.rejects`) });
  let summary: Awaited<ReturnType<typeof run>>;
  if (name === 'profiles') {
    const store = new ProfileStore(redis, keys, config.campaign.indexedFields);
    summary = await run({ parse: (raw) => parseProfile(raw), write: (rows) => store.upsert(rows) });
  } else {
    const resource = await requireResource(redis, keys, name).catch((err: unknown) => {
      throw isReboundError(err) ? new ReboundError(err.code, `${file}: ${err.message} (a data file is named after its resource)`, { cause: err, path: 'demo.definitions' }) : err;
    });
    summary = await run({ parse: (raw) => parseResourceRow(resource, raw), write: (rows) => upsertRows(redis, keys, resource.id, rows) });
  }
  return { file, target: name, accepted: summary.accepted, rejected: summary.rejected, ...(summary.rejectsFile === undefined ? {} : { rejectsFile: summary.rejectsFile }) };
}

function summaryFields(result: Extract<FirstStartResult, { applied: true }>): Record<string, unknown> {
  const { created, changed, unchanged } = result.definitions;
  return { dir: result.dir, created: created.length, changed: changed.length, unchanged: unchanged.length, imported: Object.fromEntries(result.imports.map((f) => [f.target, f.accepted])) };
}

/** "first start: applied the definitions of DIR (18 definitions: 1 Source, 3 Triggers, …; imported 500 catalog rows, 200 profiles)". */
export function summaryLine(result: Extract<FirstStartResult, { applied: true }>): string {
  const items = [...result.definitions.created, ...result.definitions.changed, ...result.definitions.unchanged];
  const byKind = new Map<string, number>();
  for (const item of items) byKind.set(item.kind, (byKind.get(item.kind) ?? 0) + 1);
  const kinds = [...byKind].map(([kind, n]) => `${n} ${kind}${n === 1 ? '' : 's'}`).join(', ');
  const data = result.imports.map((f) => `${f.accepted} ${f.target === 'profiles' ? 'profiles' : `${f.target} rows`}${f.rejected > 0 ? ` (${f.rejected} rejected)` : ''}`).join(', ');
  return `first start: applied the definitions of ${result.dir} (${items.length} definitions: ${kinds}${data === '' ? '' : `; imported ${data}`})`;
}

// Loads the configuration: the YAML file, then the environment of SPEC §1 on top, validated by
// the one schema. Every problem is reported at once with its key path; the result is frozen.
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { configSchema, type ReboundConfig } from './config-schema.js';
import { ReboundError } from './errors.js';

export type Env = Readonly<Record<string, string | undefined>>;

/** Environment variable → config key path, with how the text becomes a value. */
const envOverrides: Array<[string, string[], (text: string) => unknown]> = [
  ['REBOUND_PREFIX', ['prefix'], String],
  ['REBOUND_DATA_DIR', ['dataDir'], String],
  ['REBOUND_INSTANCE', ['instance'], String],
  ['REBOUND_REDIS_URL', ['redis', 'url'], String],
  ['REBOUND_REDIS_CLUSTER', ['redis', 'cluster'], (text) => text.split(',').map((s) => s.trim()).filter(Boolean)],
  ['REBOUND_INGEST_HOST', ['ingest', 'host'], String],
  ['REBOUND_INGEST_PORT', ['ingest', 'port'], Number],
  ['REBOUND_ADMIN_HOST', ['admin', 'host'], String],
  ['REBOUND_ADMIN_PORT', ['admin', 'port'], Number],
  ['REBOUND_ADMIN_TOKEN', ['admin', 'token'], String],
  ['REBOUND_METRICS_HOST', ['metrics', 'host'], String],
  ['REBOUND_METRICS_PORT', ['metrics', 'port'], Number],
  ['REBOUND_LOG_LEVEL', ['log', 'level'], String],
  ['REBOUND_SMTP_URL', ['deliver', 'smtp', 'url'], String],
  ['REBOUND_SMTP_FALLBACK_URL', ['deliver', 'smtp', 'fallbackUrl'], String],
  ['REBOUND_SMPP_URL', ['deliver', 'smpp', 'url'], String],
  ['REBOUND_SMS_WEBHOOK_URL', ['deliver', 'webhook', 'url'], String],
  ['REBOUND_SMS_WEBHOOK_SECRET', ['deliver', 'webhook', 'secret'], String],
];

/** Sets a nested key; leaves a misplaced scalar alone so that validation still reports it. */
function setPath(target: Record<string, unknown>, path: string[], value: unknown): void {
  let node = target;
  for (const key of path.slice(0, -1)) {
    const next = node[key] ?? (node[key] = {});
    if (typeof next !== 'object' || Array.isArray(next)) return;
    node = next as Record<string, unknown>;
  }
  node[path[path.length - 1] as string] = value;
}

/** A key left empty in YAML (`ingest:` with every line below commented out) means its default. */
function dropNulls(node: Record<string, unknown>): Record<string, unknown> {
  for (const [key, value] of Object.entries(node)) {
    if (value === null) delete node[key];
    else if (typeof value === 'object' && !Array.isArray(value)) dropNulls(value as Record<string, unknown>);
  }
  return node;
}

function readYaml(file: string, required: boolean): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if (!required && (err as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw new ReboundError('CONFIG_FILE_UNREADABLE', `cannot read configuration file ${file}: ${(err as Error).message}`, { cause: err });
  }
  try {
    const parsed: unknown = parseYaml(text);
    if (parsed === null || parsed === undefined) return {};
    if (typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('the top level must be a mapping');
    return dropNulls(parsed as Record<string, unknown>);
  } catch (err) {
    throw new ReboundError('CONFIG_INVALID', `${file}: ${(err as Error).message}`, { cause: err, path: file });
  }
}

/** Validates raw settings (file content with env applied); throws CONFIG_INVALID listing all problems. */
export function parseConfig(raw: unknown, origin = 'configuration'): Readonly<ReboundConfig> {
  const result = configSchema.safeParse(raw);
  if (!result.success) {
    const lines = result.error.issues.map((issue) => `  ${issue.path.join('.') || '(top level)'}: ${issue.message}`);
    throw new ReboundError('CONFIG_INVALID', `invalid ${origin}:\n${lines.join('\n')}`, { path: origin });
  }
  return deepFreeze(result.data);
}

export interface LoadConfigOptions {
  env?: Env;
  /** Path of the YAML file; default REBOUND_CONFIG or config/rebound.yaml (optional when defaulted). */
  file?: string;
}

export function loadConfig({ env = process.env, file }: LoadConfigOptions = {}): Readonly<ReboundConfig> {
  const explicit = file ?? (env.REBOUND_CONFIG || undefined);
  const path = explicit ?? 'config/rebound.yaml';
  const raw = readYaml(path, explicit !== undefined);
  for (const [name, keyPath, convert] of envOverrides) {
    const text = env[name];
    if (text !== undefined && text !== '') setPath(raw, keyPath, convert(text));
  }
  return parseConfig(raw, `${path} (with REBOUND_* environment)`);
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object') {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}

// `rebound apply -f PATH`: reads a YAML file or a folder of them (templates as files next to the
// YAML), validates everything locally and prints every problem with file and line (exit 2,
// nothing sent), then sends the bundle to the admin API (POST /admin/apply), which checks it
// again against what is stored and applies it all or nothing. Prints what was (or, with
// --dry-run, would be) created, changed, unchanged and, with --prune, deleted.
import { readTokenFile } from '../admin/auth.js';
import type { ApplyResult } from '../admin/apply.js';
import { loadConfig } from '../core/config.js';
import type { ReboundConfig } from '../core/config-schema.js';
import { ReboundError } from '../core/errors.js';
import { checkBundle } from '../model/bundle-check.js';
import { loadBundle } from '../model/bundle-files.js';
import { formatIssue, type DefinitionIssue } from '../model/definition-issues.js';

export interface ApplyCommandOptions {
  file: string;
  adminUrl?: string;
  token?: string;
  dryRun?: boolean;
  prune?: boolean;
  config?: string;
}

/** The admin API of the configuration: admin.host (a wildcard host means this machine) and port. */
export function adminUrlOf(config: Readonly<ReboundConfig>, explicit?: string): string {
  if (explicit !== undefined) return explicit.replace(/\/+$/, '');
  const host = ['0.0.0.0', '::', ''].includes(config.admin.host) ? '127.0.0.1' : config.admin.host;
  return `http://${host.includes(':') ? `[${host}]` : host}:${config.admin.port}`;
}

/** --token, else admin.token / REBOUND_ADMIN_TOKEN, else the token file of the data directory. */
export function adminTokenOf(config: Readonly<ReboundConfig>, explicit?: string): string {
  const token = explicit ?? config.admin.token ?? readTokenFile(config.dataDir);
  if (token === undefined) {
    throw new ReboundError('CONFIG_INVALID', `no admin token: pass --token, set REBOUND_ADMIN_TOKEN, or run where ${config.dataDir}/admin-token exists`, { path: 'admin.token' });
  }
  return token;
}

/** Sends a JSON request to the admin API; resolves with the status and the parsed body. */
export async function callAdmin(url: string, token: string, method: string, body?: unknown): Promise<{ status: number; body: unknown }> {
  let response: Response;
  try {
    response = await fetch(url, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(120_000),
    });
  } catch (err) {
    const cause = (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).message;
    throw new ReboundError('ADMIN_UNREACHABLE', `cannot reach the admin API at ${url} (${cause}); start Rebound with the admin role or pass --admin-url`, { cause: err });
  }
  const text = await response.text();
  try {
    return { status: response.status, body: text === '' ? undefined : (JSON.parse(text) as unknown) };
  } catch {
    throw new ReboundError('ADMIN_UNREACHABLE', `${url} answered ${response.status} with something that is not the admin API's JSON`);
  }
}

function printIssues(issues: readonly DefinitionIssue[]): void {
  const ordered = [...issues].sort((a, b) => (a.file ?? '').localeCompare(b.file ?? '') || (a.line ?? 0) - (b.line ?? 0));
  for (const issue of ordered) process.stderr.write(`${formatIssue(issue)}\n`);
  process.stderr.write(`${issues.length} problem${issues.length === 1 ? '' : 's'}; nothing was applied\n`);
  process.exitCode = 2;
}

export function formatResult(result: ApplyResult): string {
  const lines: string[] = [];
  for (const outcome of ['created', 'changed', 'unchanged', 'deleted'] as const) {
    for (const item of result[outcome]) lines.push(`${outcome.padEnd(9)} ${item.kind} ${item.id}${item.file === undefined ? '' : `  (${item.file}:${item.line ?? 1})`}`);
  }
  const counts = `${result.created.length} created, ${result.changed.length} changed, ${result.unchanged.length} unchanged, ${result.deleted.length} deleted`;
  lines.push(result.dryRun ? `${counts} (dry run: nothing was changed)` : counts);
  return lines.join('\n');
}

export async function apply(options: ApplyCommandOptions): Promise<void> {
  const config = loadConfig(options.config === undefined ? {} : { file: options.config });
  const bundle = loadBundle(options.file);
  const check = checkBundle(bundle.documents);
  const issues = [...bundle.issues, ...check.issues];
  if (issues.length > 0) return printIssues(issues);
  const url = `${adminUrlOf(config, options.adminUrl)}/admin/apply`;
  const reply = await callAdmin(url, adminTokenOf(config, options.token), 'POST', { documents: bundle.documents, dryRun: options.dryRun === true, prune: options.prune === true });
  const error = (reply.body as { error?: { code?: string; message?: string; errors?: DefinitionIssue[] } } | undefined)?.error;
  if (error?.errors !== undefined) return printIssues(error.errors);
  if (reply.status !== 200 || error !== undefined) {
    throw new ReboundError(reply.status === 401 ? 'ADMIN_UNAUTHORIZED' : 'ADMIN_UNREACHABLE', `the admin API answered ${reply.status}: ${error?.code ?? ''} ${error?.message ?? ''}`.trim());
  }
  process.stdout.write(`${formatResult(reply.body as ApplyResult)}\n`);
}

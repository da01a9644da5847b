// The demo shop as the e2e suites install it: a copy of config/definitions with every trigger's
// inactivity shortened to 2 s, a configuration file with short recovery times (claimIdle,
// retries) for the tests, `rebound apply` of the copy through the admin API, `rebound import` of
// its profiles and catalog, and the shop's data (profiles, catalog) read back for assertions.
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { stringify } from 'yaml';
import { runRebound } from './rebound-processes.js';

export const demoDir = resolve(import.meta.dirname, '../../config/definitions');
export const writeKey = 'demo-shop-web-key';
export const adminToken = 'e2e-admin-token-0123456789';
/** Partitions of the e2e installations (e2eConfig). */
export const partitions = 8;

export interface Profile {
  id: string;
  email?: string;
  phone?: string;
  firstName?: string;
  locale?: string;
  emailOptOut?: boolean;
  smsOptOut?: boolean;
}

export interface Product {
  sku: string;
  name: string;
  price: number;
  category: string;
}

const readNdjson = <T>(file: string): T[] =>
  readFileSync(file, 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as T);

export const demoProfiles = (): Profile[] => readNdjson<Profile>(join(demoDir, 'profiles.ndjson'));
export const demoCatalog = (): Product[] => readNdjson<Product>(join(demoDir, 'catalog.ndjson'));

const temps: string[] = [];
export function tempDir(label: string): string {
  const dir = mkdtempSync(join(tmpdir(), `rebound-e2e-${label}-`));
  temps.push(dir);
  return dir;
}
export function removeTempDirs(): void {
  for (const dir of temps.splice(0)) rmSync(dir, { recursive: true, force: true });
}

/** A copy of the demo shop's definitions whose triggers fire after 2 s of inactivity. */
export function quickShopDefinitions(): string {
  const dir = tempDir('defs');
  cpSync(demoDir, dir, { recursive: true });
  const triggers = join(dir, 'triggers.yaml');
  const text = readFileSync(triggers, 'utf8');
  const quick = text.replace(/^inactivity: 30s$/gm, 'inactivity: 2s');
  if ((quick.match(/^inactivity: 2s$/gm) ?? []).length !== 3) throw new Error(`${triggers}: expected three "inactivity: 30s" lines`);
  writeFileSync(triggers, quick);
  return dir;
}

/**
 * The configuration file of the e2e installations: loopback listeners, short recovery (a dead
 * consumer's entries are claimed after 3 s; deliver's hand-off timeout 1 s so that a batch is
 * recorded well within claimIdle), quick retries after transient SMTP failures, quick SMPP
 * reconnects, no demo first start. `overrides` are merged one level deep.
 */
export function e2eConfig(overrides: Record<string, Record<string, unknown>> = {}): string {
  const settings: Record<string, Record<string, unknown>> = {
    log: { level: 'info' },
    stages: { claimIdle: '3s', recoverEvery: '1s', batchSize: 50, maxInFlight: 4, trimEvery: '5s' },
    ingest: { host: '127.0.0.1', port: 0 },
    admin: { host: '127.0.0.1', port: 0 },
    metrics: { host: '127.0.0.1', port: 0 },
    demo: { firstStart: false },
    deliver: { sendTimeout: '1s', retry: { base: '1s', max: '4s' }, retryEvery: '200ms', retryLease: '5s', smpp: { reconnect: { base: '200ms', max: '1s' }, enquireLink: '5s' } },
  };
  for (const [section, values] of Object.entries(overrides)) settings[section] = { ...settings[section], ...values };
  const file = join(tempDir('config'), 'rebound.yaml');
  writeFileSync(file, stringify({ partitions, ...settings }));
  return file;
}

/** `rebound apply -f <definitions>` against the admin API, then `rebound import` of profiles and catalog. */
export async function installShop(definitions: string, adminUrl: string, env: Record<string, string>): Promise<string[]> {
  const log: string[] = [];
  const applied = await runRebound(['apply', '-f', definitions, '--admin-url', adminUrl, '--token', adminToken], env);
  if (applied.code !== 0) throw new Error(`rebound apply failed (${applied.code}):\n${applied.output}`);
  log.push(applied.stdout.trim().split('\n').at(-1) ?? '');
  for (const [what, file] of [
    ['profiles', join(definitions, 'profiles.ndjson')],
    ['catalog', join(definitions, 'catalog.ndjson')],
  ] as const) {
    const imported = await runRebound(['import', what, file], env);
    if (imported.code !== 0) throw new Error(`rebound import ${what} failed (${imported.code}):\n${imported.output}`);
    log.push(imported.stdout.trim());
  }
  return log;
}

// Test helpers for the admin API: an admin role started in-process on a free loopback port
// against a real Redis (standalone or cluster) with its own key prefix, or served on a runtime
// started elsewhere (serveAdmin), a fetch-based client, and bundle folders written to a
// temporary directory.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { adminRouter, createAdmin, type AdminOptions } from '../../src/admin/role.js';
import { startAdminServer, type AdminServer } from '../../src/admin/server.js';
import { bootstrap, type Runtime } from '../../src/core/bootstrap.js';
import { parseConfig } from '../../src/core/config.js';
import { encode } from '../../src/core/codec.js';
import { createLogger } from '../../src/core/log.js';
import type { RedisPort } from '../../src/core/redis/client.js';
import type { Keys } from '../../src/core/redis/keys.js';
import { deadLetter } from '../../src/stages/runtime/commit.js';
import { newPrefix } from '../stages/pipeline-helpers.js';

export const adminToken = 'test-admin-token-0123456789';

export interface Reply {
  status: number;
  body: any; // eslint-disable-line @typescript-eslint/no-explicit-any -- tests read arbitrary JSON answers
  headers: Headers;
}

export interface TestAdmin {
  runtime: Runtime;
  server: AdminServer;
  url: string;
  dataDir: string;
  call(method: string, path: string, body?: unknown, token?: string | null): Promise<Reply>;
  close(): Promise<void>;
}

export interface RedisTarget {
  url?: string;
  cluster?: string[];
}

/** A JSON client of an admin API at `url` (bearer token `adminToken` unless given; null: none). */
export function adminClient(url: string): TestAdmin['call'] {
  return async (method, path, body, token = adminToken) => {
    const headers: Record<string, string> = {};
    if (token !== null) headers.authorization = `Bearer ${token}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    const response = await fetch(`${url}${path}`, { method, headers, ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }) });
    const text = await response.text();
    return { status: response.status, body: text === '' ? undefined : JSON.parse(text), headers: response.headers };
  };
}

export interface ServedAdmin {
  url: string;
  call: TestAdmin['call'];
  close(): Promise<void>;
}

/** The admin API on a runtime started elsewhere (a campaign harness's), on a free loopback port. */
export async function serveAdmin(runtime: Runtime, options: AdminOptions = {}): Promise<ServedAdmin> {
  const server = await startAdminServer({ host: '127.0.0.1', port: 0, token: adminToken, maxBodyBytes: 1 << 20, router: adminRouter(runtime, options), logger: createLogger('silent') });
  return { url: server.url, call: adminClient(server.url), close: () => server.close() };
}

export async function startTestAdmin(target: RedisTarget, admin: Record<string, unknown> = {}, partitions = 4): Promise<TestAdmin> {
  const dataDir = mkdtempSync(join(tmpdir(), 'rebound-admin-'));
  const config = parseConfig({
    prefix: newPrefix(),
    partitions,
    dataDir,
    redis: { ...(target.url === undefined ? {} : { url: target.url }), ...(target.cluster === undefined ? {} : { cluster: target.cluster }), connectTimeout: '5s' },
    log: { level: 'silent' },
    admin: { host: '127.0.0.1', port: 0, token: adminToken, ...admin },
  });
  const runtime = await bootstrap(config, createLogger('silent'));
  const server = await createAdmin(runtime);
  const url = server.url;
  return {
    runtime,
    server,
    url,
    dataDir,
    call: adminClient(url),
    async close() {
      await runtime.lifecycle.shutdown(5000);
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Writes files (relative path → content) under a new temporary folder; returns the folder. */
export function writeTree(files: Record<string, string>): string {
  const root = mkdtempSync(join(tmpdir(), 'rebound-bundle-'));
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), content);
  }
  return root;
}

export const sourceYaml = (id = 'shop-web', writeKey = 'wk_test_0123456789'): string => `kind: Source
id: ${id}
name: Shop
writeKeys: [${writeKey}]
`;

export const triggerYaml = (id: string, inactivity = '10m'): string => `kind: Trigger
id: ${id}
name: ${id}
source: shop-web
type: abandonment
include:
  containers:
    - [{metric: scAdd, op: exists}]
exclude:
  containers:
    - [{metric: purchase, op: exists}]
inactivity: ${inactivity}
metadata: [pageName, products]
`;

/**
 * Real dead letters, made the way the stage runtime makes them: entries of `stream` read by
 * `group` in the given partitions, then moved by stages/runtime/commit.ts `deadLetter`.
 */
export async function makeDeadLetters(redis: RedisPort, keys: Keys, stream: string, partitions: readonly number[], group = 'detect'): Promise<Array<{ partition: number; data: Buffer }>> {
  const made: Array<{ partition: number; data: Buffer }> = [];
  for (const partition of partitions) {
    const key = keys.stream(partition, stream);
    await redis.xgroupCreate(key, group, '0');
    const data = encode({ poison: partition, at: made.length });
    await redis.xadd(key, data);
    const [entry] = await redis.xreadgroup(key, group, 'worker', '>', 1);
    const target = { redis, keys, partition, input: stream, group };
    await deadLetter(target, entry!.id, 5, `HIT_INVALID: poison in partition ${partition}`);
    made.push({ partition, data });
  }
  return made;
}

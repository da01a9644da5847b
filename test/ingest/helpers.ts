// Test helpers for ingest: an ingest role started in-process on a free port against a real
// Redis, with its own key prefix and one source, and the hits read back from the streams.
import { bootstrap, type Runtime } from '../../src/core/bootstrap.js';
import { parseConfig } from '../../src/core/config.js';
import type { ReboundConfigInput } from '../../src/core/config-schema.js';
import { createLogger } from '../../src/core/log.js';
import { createIngest, type IngestHandle } from '../../src/ingest/role.js';
import { decodeHits, type Hit } from '../../src/model/hit.js';
import { putSource } from '../../src/model/source-store.js';
import { newPrefix } from '../stages/pipeline-helpers.js';

export const writeKey = 'wk_test_0123456789';
export const sourceId = 'shop-web';

export interface TestIngest {
  runtime: Runtime;
  ingest: IngestHandle;
  base: string;
  auth: string;
  /** Every hit in the hits streams, in no particular order. */
  hits(): Promise<Hit[]>;
  /** Number of stream entries over all partitions. */
  entries(): Promise<number>;
  close(): Promise<void>;
}

export async function startTestIngest(redisUrl: string, ingest: NonNullable<ReboundConfigInput['ingest']> = {}): Promise<TestIngest> {
  const config = parseConfig({ prefix: newPrefix(), partitions: 4, redis: { url: redisUrl, connectTimeout: '2s' }, log: { level: 'silent' }, ingest: { host: '127.0.0.1', port: 0, ...ingest } });
  const runtime = await bootstrap(config, createLogger('silent'));
  await putSource(runtime.redis, runtime.keys, { kind: 'Source', id: sourceId, name: 'Shop', writeKeys: [writeKey] });
  const handle = await createIngest(runtime);
  const { redis, keys } = runtime;
  return {
    runtime,
    ingest: handle,
    base: `http://127.0.0.1:${handle.port}`,
    auth: `Basic ${Buffer.from(`${writeKey}:`).toString('base64')}`,
    async hits() {
      const all: Hit[] = [];
      for (const p of keys.allPartitions()) for (const entry of await redis.xrange(keys.stream(p, 'hits'))) all.push(...decodeHits(entry.data as Buffer));
      return all;
    },
    async entries() {
      let n = 0;
      for (const p of keys.allPartitions()) n += await redis.xlen(keys.stream(p, 'hits'));
      return n;
    },
    async close() {
      await runtime.lifecycle.shutdown(5000);
    },
  };
}

export async function waitFor<T>(probe: () => Promise<T | undefined>, timeoutMs = 5000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

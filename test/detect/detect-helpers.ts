// Test helpers for detect: the detect role started in-process on a fresh prefix against the real
// Redis, hits appended to the partition streams as ingest writes them, and the trigger log read
// back as decoded records.
import { bootstrap, type Runtime } from '../../src/core/bootstrap.js';
import { parseConfig } from '../../src/core/config.js';
import { createLogger } from '../../src/core/log.js';
import { encodeHits, type Hit } from '../../src/model/hit.js';
import { putSource } from '../../src/model/source-store.js';
import { decodeFiredRecord, type FiredRecord } from '../../src/model/trigger-message.js';
import { putTrigger } from '../../src/model/trigger-store.js';
import { startDetect } from '../../src/stages/detect/role.js';
import { newPrefix } from '../stages/pipeline-helpers.js';

export interface TestDetect {
  runtime: Runtime;
  send(...hits: Array<Partial<Hit> & { visitorId: string }>): Promise<void>;
  fired(): Promise<Array<FiredRecord & { offset: string; partition: number }>>;
  close(): Promise<void>;
}

let counter = 0;

export function hit(visitorId: string, fields: Partial<Hit> = {}): Partial<Hit> & { visitorId: string } {
  const now = Date.now();
  return { id: `h-${process.pid}-${++counter}`, source: 'shop-web', visitorId, ts: now, receivedAt: now, type: 'track', events: [], ...fields };
}

/** Starts detect with 1-second visits and fast timers; `triggers` are put before it starts. */
export async function startTestDetect(redisUrl: string, triggers: unknown[], visit: Record<string, unknown> = { inactivity: '1500ms' }): Promise<TestDetect> {
  const config = parseConfig({
    prefix: newPrefix(),
    partitions: 4,
    redis: { url: redisUrl },
    log: { level: 'silent' },
    stages: { idlePoll: '10ms', claimIdle: '5s' },
    detect: { settle: '200ms', timerTick: '50ms', definitionsPoll: '200ms' },
  });
  const runtime = await bootstrap(config, createLogger('silent'));
  await putSource(runtime.redis, runtime.keys, { kind: 'Source', id: 'shop-web', writeKeys: ['wk_test_0123456789'], visit });
  for (const trigger of triggers) await putTrigger(runtime.redis, runtime.keys, trigger);
  await startDetect(runtime);
  const { redis, keys } = runtime;
  return {
    runtime,
    async send(...hits) {
      for (const h of hits) {
        const full = { ...hit(h.visitorId), ...h } as Hit;
        await redis.xadd(keys.stream(keys.partitionOf(full.visitorId), 'hits'), encodeHits([full]));
      }
    },
    async fired() {
      const all: Array<FiredRecord & { offset: string; partition: number }> = [];
      for (const partition of keys.allPartitions()) {
        for (const entry of await redis.xrange(keys.stream(partition, 'fired'))) all.push({ ...decodeFiredRecord(entry.data as Buffer), offset: entry.id, partition });
      }
      return all;
    },
    close: async () => void (await runtime.lifecycle.shutdown(5000)),
  };
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

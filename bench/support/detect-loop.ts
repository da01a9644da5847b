// The detect stage's own work on the detect benchmark's hits, in this process and without Redis:
// CPU per hit (all threads, garbage collection included) and, with --alloc, the bytes allocated
// per hit by allocation site (V8's sampling heap profiler, objects collected since included).
// For profiling the stage (the benchmark's figures swing ±20 % with the host; this loop less so):
// nothing here is a result. Redis answers are stood in for: every state is new (as in the
// benchmark's first pass) and every write goes through, as if the process's token were found.
// Usage: node --max-semi-space-size=32 --import tsx bench/support/detect-loop.ts [--rounds N] [--entries N] [--alloc] [--survivors] [--snapshot FILE]
// (--entries: entries per batch; --survivors: as --alloc, counting only objects that lived through a scavenge; --snapshot: a heap snapshot after the last round, its cached states
// alive; add --cpu-prof --cpu-prof-dir=DIR for a CPU profile, summarized by bench/support/cpu-profile.ts,
// or --trace-gc-nvp for what each garbage collection copied and promoted)
import { parseArgs } from 'node:util';
import { writeHeapSnapshot } from 'node:v8';
import { decode } from '../../src/core/codec.js';
import { connectRedis, type RedisPort } from '../../src/core/redis/client.js';
import { Keys } from '../../src/core/redis/keys.js';
import { putSource } from '../../src/model/source-store.js';
import { putTrigger } from '../../src/model/trigger-store.js';
import { loadDetectDefinitions } from '../../src/stages/detect/definitions.js';
import { detectStage } from '../../src/stages/detect/detect-stage.js';
import { VisitorCache } from '../../src/stages/detect/visitor-cache.js';
import type { StageItem } from '../../src/stages/runtime/stage.js';
import type { Hit } from '../../src/model/hit.js';
import { startRedis } from '../../test/support/redis-server.js';
import { AllocationSampler } from './alloc-profile.js';
import { hitEntries, triggers } from '../scenarios/detect.js';

const { values: options } = parseArgs({
  options: { rounds: { type: 'string', default: '6' }, entries: { type: 'string', default: '26' }, alloc: { type: 'boolean', default: false }, survivors: { type: 'boolean', default: false }, snapshot: { type: 'string' } },
});
const rounds = Math.max(2, Number(options.rounds));
// 26: what the runtime reads per partition in the benchmark (stages.batchBytes 256 KB of ~10 KB entries).
const ENTRIES_PER_BATCH = Math.max(1, Number(options.entries));
const IN_FLIGHT = 8; // stages.maxInFlight

// The definitions come from a real Redis, as the stage gets them.
const keys = new Keys('detect-loop', 16);
const server = await startRedis({});
const setup = await connectRedis({ url: server.url }, { connectTimeoutMs: 5000, name: 'detect-loop' });
await putSource(setup, keys, { kind: 'Source', id: 'shop-web', writeKeys: ['wk_bench_000000'] });
for (const trigger of triggers(100)) await putTrigger(setup, keys, trigger);
const definitions = await loadDetectDefinitions(setup, keys, { settleMs: 1000 });
await setup.close();
await server.stop();

const batches: Array<{ partition: number; items: Array<StageItem<Hit[]>> }> = [];
const byStream = new Map<string, Array<StageItem<Hit[]>>>();
let id = 0;
for (const { key, data } of hitEntries(keys, Date.now())) {
  const items = byStream.get(key) ?? [];
  byStream.set(key, items);
  items.push({ id: `${++id}-0`, data, value: [], deliveries: 1 } as unknown as StageItem<Hit[]>);
}
for (const p of keys.allPartitions()) {
  const items = byStream.get(keys.stream(p, 'hits')) ?? [];
  for (let i = 0; i < items.length; i += ENTRIES_PER_BATCH) batches.push({ partition: p, items: items.slice(i, i + ENTRIES_PER_BATCH) });
}
// Partitions take turns, as the runtime's reads do.
const order = batches.map((_, i) => i).sort((a, b) => (a % 16) - (b % 16) || a - b);
const hits = batches.reduce((n, b) => n + b.items.reduce((m, item) => m + decode<unknown[]>(item.data).length, 0), 0);

/** detect-load: every state new; detect-apply: written, the expected token found. */
const redis = {
  scriptBuffer: async (_name: string, scriptKeys: readonly string[]) => scriptKeys.map(() => [null, null, null, -2]),
  script: async () => [0, 1],
} as unknown as RedisPort;

const sampler = new AllocationSampler();
const cpu: number[] = [];
for (let round = 0; round < rounds; round++) {
  // The first round warms the code up; allocation is sampled from the second on.
  if (round === 1 && (options.alloc || options.survivors)) await sampler.start(options.survivors);
  const stage = detectStage(redis, keys, () => definitions, { visitorTtlMs: 7 * 86_400_000, cache: new VisitorCache(50_000) });
  const before = process.cpuUsage();
  let next = 0;
  await Promise.all(
    Array.from({ length: IN_FLIGHT }, async () => {
      while (next < order.length) {
        const batch = batches[order[next++] as number]!;
        await stage.process(batch.items, batch.partition);
      }
    }),
  );
  const used = process.cpuUsage(before);
  cpu.push((used.user + used.system) / hits);
  if (options.snapshot && round === rounds - 1) console.log(`heap snapshot, ${stage.name}'s cached states alive: ${writeHeapSnapshot(options.snapshot)}`);
  console.log(`round ${round + 1}: ${(cpu[round] as number).toFixed(2)} µs of CPU per hit`);
}
const sorted = cpu.slice(1).sort((a, b) => a - b);
console.log(`after the first round: min ${sorted[0]!.toFixed(2)}, median ${sorted[Math.floor(sorted.length / 2)]!.toFixed(2)} µs per hit (${hits.toLocaleString('en-US')} hits a round)`);

if (options.alloc || options.survivors) console.log(await sampler.stop(hits * (rounds - 1), 'hit'));

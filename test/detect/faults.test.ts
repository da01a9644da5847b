// Detect under faults and load (SPEC §5, §10): a detect process killed -9 mid-run, two timer tasks
// racing on the same due timers, a trigger changed while hits flow, and 1,000 enabled triggers on
// one source. Outcomes are read from the trigger log and compared with the reference evaluator.
import { hostname } from 'node:os';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { bootstrap } from '../../src/core/bootstrap.js';
import { systemClock } from '../../src/core/clock.js';
import { parseConfig } from '../../src/core/config.js';
import { createLogger } from '../../src/core/log.js';
import { metricsRegistry } from '../../src/core/metrics.js';
import type { RedisPort } from '../../src/core/redis/client.js';
import { Keys } from '../../src/core/redis/keys.js';
import type { Hit } from '../../src/model/hit.js';
import { parseTrigger, type TriggerDefinition } from '../../src/model/trigger.js';
import { putTrigger } from '../../src/model/trigger-store.js';
import { loadDetectDefinitions } from '../../src/stages/detect/definitions.js';
import { detectGroup, detectStage } from '../../src/stages/detect/detect-stage.js';
import { TimerTask } from '../../src/stages/detect/timers.js';
import { VisitorCache } from '../../src/stages/detect/visitor-cache.js';
import { startStages } from '../../src/stages/runtime/run-stages.js';
import type { StageDefinition } from '../../src/stages/runtime/stage.js';
import { newPrefix } from '../stages/pipeline-helpers.js';
import { startChild, waitFor, type Child } from '../support/processes.js';
import {
  allDecided, appendEntries, connect, countFires, firedRecords, makeHit, partitionEntries, putDefinitions, sleep, startDetectRuntime, visitorInPartition,
} from './detect-harness.js';
import { evaluateVisit } from './reference.js';
import { triggerDocuments } from './trigger-documents.js';

const cartAbandonment = triggerDocuments.find((doc) => doc.id === 'cart-abandonment') as (typeof triggerDocuments)[number];
const cartTrigger = parseTrigger(cartAbandonment);

let url: string;
let redis: RedisPort;
beforeAll(async () => {
  url = inject('redisUrl');
  redis = await connect(url);
});
afterAll(async () => redis?.close());

/** Per visitor, the names of the triggers the reference says its visit fires. */
function expectedFires(triggers: readonly TriggerDefinition[], visits: ReadonlyArray<readonly Hit[]>): Map<string, number> {
  const expected = new Map<string, number>();
  for (const hits of visits) {
    const visitorId = (hits[0] as Hit).visitorId;
    for (const trigger of triggers) if (evaluateVisit(trigger, visitorId, hits)) expected.set(`${visitorId}|${trigger.id}`, 1);
  }
  return expected;
}

/** Differences between two `visitor|trigger → count` maps, at most 10, for a readable failure. */
function differences(actual: Map<string, number>, expected: Map<string, number>): string[] {
  const problems: string[] = [];
  for (const key of new Set([...actual.keys(), ...expected.keys()])) {
    if ((actual.get(key) ?? 0) !== (expected.get(key) ?? 0)) problems.push(`${key}: fired ${actual.get(key) ?? 0}× (expected ${expected.get(key) ?? 0})`);
  }
  return problems.slice(0, 10);
}

/** `count` cart visits of three kinds: abandoned cart (fires), bought (excluded), browsed (no include). */
function cartVisits(tag: string, count: number, receivedAt: number): Hit[][] {
  return Array.from({ length: count }, (_, i) => {
    const visitorId = `${tag}-${i}`;
    const at = (n: number, fields: Partial<Hit>): Hit => makeHit(visitorId, { id: `${visitorId}-${n}`, ts: receivedAt + n * 10, receivedAt, ...fields });
    const add = at(1, { events: ['scAdd'], pageName: 'cart', products: [{ sku: `S${i % 7}`, quantity: 1 }] });
    if (i % 3 === 0) return [at(0, { events: ['prodView'], pageName: 'product' }), add];
    if (i % 3 === 1) return [add, at(2, { events: ['purchase'], pageName: 'thanks' })];
    return [at(0, { events: ['prodView'], pageName: 'product' }), at(2, { type: 'page', pageName: 'home' })];
  });
}

describe('a detect worker killed -9 while 2,000 visitors are processed', () => {
  it('loses nothing: every abandoned cart fires exactly once, no other visitor fires', async () => {
    const prefix = newPrefix();
    const keys = new Keys(prefix, 16);
    await putDefinitions(redis, keys, { inactivity: '30m' }, [cartAbandonment]);
    const env = { TEST_REDIS_URL: url, TEST_PREFIX: prefix, TEST_PARTITIONS: '16', TEST_APPLY_DELAY_MS: '100', TEST_CLAIM_IDLE: '1s' };
    const workers: Child[] = await Promise.all([0, 1].map(() => startChild('test/fixtures/detect-worker.ts', env)));
    const [victim, survivor] = workers as [Child, Child];
    const victimConsumer = `${hostname()}-${victim.process.pid}`;
    try {
      // 10 waves of 200 visitors, 150 ms apart; each visitor's hits in one entry (as one ingest flush).
      const visits: Hit[][] = [];
      let killed = false;
      let deadPending = 0;
      for (let w = 0; w < 10; w++) {
        const wave = cartVisits(`${prefix}-w${w}`, 200, Date.now());
        visits.push(...wave);
        await appendEntries(redis, keys, partitionEntries(keys, wave, 8));
        await sleep(30);
        // Kill the victim mid-run (once earlier waves' timers are due), while it holds delivered entries.
        if (w >= 6 && !killed && (await pendingOf(redis, keys, victimConsumer)) > 0) {
          await victim.kill9();
          killed = true;
          deadPending = await pendingOf(redis, keys, victimConsumer);
        }
        await sleep(120);
      }
      expect(killed).toBe(true);
      expect(deadPending).toBeGreaterThan(0);
      await waitFor('every entry acknowledged and every timer decided', () => allDecided(redis, keys), 30_000, 100);
      expect(await pendingOf(redis, keys, victimConsumer)).toBe(0);
      const fired = countFires(await firedRecords(redis, keys));
      const expected = expectedFires([cartTrigger], visits);
      expect(expected.size).toBe(10 * 67); // i % 3 === 0 of each wave of 200
      expect(differences(fired, expected)).toEqual([]);
      expect(survivor.process.exitCode).toBeNull();
      console.info(`kill -9: ${deadPending} entries were pending on the killed worker; ${expected.size} visitors fired once each`);
    } finally {
      await Promise.all(workers.map((w) => w.kill9()));
    }
  }, 90_000);
});

async function pendingOf(redis: RedisPort, keys: Keys, consumer: string): Promise<number> {
  let count = 0;
  for (const partition of keys.allPartitions()) {
    count += (await redis.xpendingIdle(keys.stream(partition, 'hits'), detectGroup, 0, 10_000)).filter((p) => p.consumer === consumer).length;
  }
  return count;
}

describe('two timer tasks racing on the same partitions', () => {
  it('fire each of 500 due visitors exactly once', async () => {
    const config = parseConfig({ prefix: newPrefix(), partitions: 4, redis: { url }, log: { level: 'silent' }, stages: { idlePoll: '10ms' } });
    const runtime = await bootstrap(config, createLogger('silent'));
    const { keys } = runtime;
    const connections = await Promise.all([connect(url), connect(url)]);
    try {
      await putDefinitions(runtime.redis, keys, { inactivity: '30m' }, [cartAbandonment]);
      const definitions = await loadDetectDefinitions(runtime.redis, keys, { settleMs: 200 });
      // The detect stage alone (no timer task of its own) applies hits received 10 s ago: all due.
      await startStages(runtime, [detectStage(runtime.redis, keys, () => definitions, { visitorTtlMs: config.detect.visitorTtl, cache: new VisitorCache(config.detect.stateCache) }) as StageDefinition<never>]);
      const receivedAt = Date.now() - 10_000;
      const visits = Array.from({ length: 500 }, (_, i) => [makeHit(`race-${i}`, { id: `race-${i}`, receivedAt, ts: receivedAt, events: ['scAdd'], products: [{ sku: 'R' }] })]);
      await appendEntries(redis, keys, partitionEntries(keys, visits, 10));
      const due = async () => (await Promise.all(keys.allPartitions().map((p) => redis.zcard(keys.timers(p))))).reduce((a, b) => a + b, 0);
      await waitFor('500 due timers', async () => (await due()) === 500 && (await allAcknowledged(redis, keys)), 20_000, 50);

      const already = await decisionCount('already');
      const tasks = connections.map(
        (connection) =>
          new TimerTask({ redis: connection, keys, partitions: () => keys.allPartitions(), definitions: () => definitions, clock: systemClock, logger: runtime.logger, settings: { tickMs: 50, batch: 1000 }, cache: new VisitorCache(100) }),
      );
      let firedByTicks = 0;
      for (let round = 0; round < 20 && (await due()) > 0; round++) {
        const counts = await Promise.all(tasks.map((task) => task.tick()));
        firedByTicks += counts.reduce((a, b) => a + b, 0);
      }
      const records = await firedRecords(redis, keys);
      expect(records).toHaveLength(500);
      expect(new Set(records.map((r) => r.visitorId)).size).toBe(500);
      expect(firedByTicks).toBe(500);
      // Both tasks took the same due members: the loser of each race found the fired flag.
      expect((await decisionCount('already')) - already).toBeGreaterThan(0);
    } finally {
      await Promise.all(connections.map((c) => c.close()));
      await runtime.lifecycle.shutdown(5000);
    }
  });
});

async function allAcknowledged(redis: RedisPort, keys: Keys): Promise<boolean> {
  for (const partition of keys.allPartitions()) {
    const group = (await redis.xinfoGroups(keys.stream(partition, 'hits'))).find((g) => g.name === detectGroup);
    if (group && (group.pending > 0 || group.lag !== 0)) return false;
  }
  return true;
}

async function decisionCount(outcome: string): Promise<number> {
  const metric = metricsRegistry.getSingleMetric('rebound_timer_decisions_total');
  const values = (await metric?.get())?.values ?? [];
  return values.filter((v) => v.labels.outcome === outcome).reduce((n, v) => n + v.value, 0);
}

describe('a trigger changed while detect runs', () => {
  it('takes effect in every detect process within 5 seconds, and only the new version fires after', async () => {
    const prefix = newPrefix();
    const keys = new Keys(prefix, 4);
    const page = (value: string) => ({
      kind: 'Trigger', id: 'page-visit', name: 'Visited a page', source: 'shop-web', type: 'action',
      include: { containers: [[{ dimension: 'pageName', op: 'eq', value }]] },
    });
    await putDefinitions(redis, keys, { inactivity: '30m' }, [page('old')]);
    // Two detect processes, each serving its own partitions, polling definitions at the default 1 s.
    const detect = { settle: '200ms', timerTick: '50ms', definitionsPoll: '1s' };
    const processes = await Promise.all([
      startDetectRuntime({ redisUrl: url, prefix, instance: 'a', served: [0, 1], detect }),
      startDetectRuntime({ redisUrl: url, prefix, instance: 'b', served: [2, 3], detect }),
    ]);
    const probed = [0, 2]; // one partition of each process
    interface Round { process: number; sentAt: number; old: string; next: string }
    const rounds: Round[] = [];
    try {
      const changedAt = Date.now();
      await putTrigger(redis, keys, page('new'));
      const newFired = async (p: number) => {
        const names = new Set((await firedRecords(redis, keys)).map((r) => r.visitorId));
        return rounds.some((r) => r.process === p && names.has(r.next));
      };
      let extra = 0;
      for (let n = 0; Date.now() - changedAt < 6000 && extra < 5; n++) {
        // Per process one entry with an 'old' and a 'new' hit: both judged by the same definitions.
        const entries = probed.map((partition, p) => {
          const round = { process: p, sentAt: Date.now(), old: visitorInPartition(keys, partition, `${prefix}-old-${n}`), next: visitorInPartition(keys, partition, `${prefix}-new-${n}`) };
          rounds.push(round);
          return [makeHit(round.old, { type: 'page', pageName: 'old' }), makeHit(round.next, { type: 'page', pageName: 'new' })];
        });
        await appendEntries(redis, keys, entries);
        await sleep(100);
        if (extra > 0 || ((await newFired(0)) && (await newFired(1)))) extra++;
      }
      await waitFor('every probe decided', () => allDecided(redis, keys), 10_000, 50);
      const records = await firedRecords(redis, keys);
      const fired = new Map(records.map((r) => [r.visitorId, r]));
      const effect: number[] = [];
      for (const p of [0, 1]) {
        const regimes = rounds.filter((r) => r.process === p).map((r) => ({ r, regime: `${fired.has(r.old) ? 'old' : '-'}/${fired.has(r.next) ? 'new' : '-'}` }));
        // Each round was judged by one version: old fired and new did not, or the reverse; never back.
        const text = regimes.map((x) => (x.regime === 'old/-' ? 'o' : x.regime === '-/new' ? 'n' : '?')).join('');
        expect(text, `process ${p}: rounds by version`).toMatch(/^o*n+$/);
        const first = regimes.find((x) => x.regime === '-/new') as (typeof regimes)[number];
        effect.push(first.r.sentAt - changedAt);
        for (const x of regimes.filter((y) => y.regime === '-/new')) expect(fired.get(x.r.next)?.version).toBe(2);
      }
      console.info(`trigger change: live in process a after ≤ ${effect[0]} ms, in process b after ≤ ${effect[1]} ms`);
      for (const ms of effect) expect(ms).toBeLessThan(5000);
    } finally {
      await Promise.all(processes.map((p) => p.close()));
    }
  }, 30_000);
});

describe('1,000 enabled triggers on one source', () => {
  const realDocuments = [
    ...triggerDocuments,
    {
      kind: 'Trigger', id: 'search-abandonment', name: 'Searched, no purchase', source: 'shop-web', type: 'abandonment',
      include: { containers: [[{ metric: 'search', op: 'exists' }]] }, exclude: { containers: [[{ metric: 'purchase', op: 'exists' }]] }, inactivity: '1s', metadata: ['searchTerm'],
    },
    {
      kind: 'Trigger', id: 'gold-add', name: 'Gold member added to cart', source: 'shop-web', type: 'action',
      include: { match: 'all', containers: [[{ dimension: 'eVar5', op: 'eq', value: 'gold' }], [{ metric: 'scAdd', op: 'exists' }]] },
    },
    {
      kind: 'Trigger', id: 'shoes-abandonment', name: 'Shoes in the cart, no checkout', source: 'shop-web', type: 'abandonment',
      include: { containers: [[{ dimension: 'category', op: 'eq', value: 'shoes' }, { metric: 'scAdd', op: 'exists' }]] },
      exclude: { containers: [[{ metric: 'scCheckout', op: 'exists' }]] }, inactivity: '1s',
    },
  ];
  // 990 triggers on metrics and dimensions the visitors below do not carry with these values.
  const unrelated = Array.from({ length: 990 }, (_, i) => {
    const include =
      i % 3 === 0 ? [[{ metric: `event${100 + i}`, op: 'exists' }]]
      : i % 3 === 1 ? [[{ dimension: `eVar${1 + (i % 250)}`, op: 'eq', value: `x${i}` }]]
      : [[{ dimension: `prop${1 + (i % 75)}`, op: 'contains', value: `y${i}` }, { metric: 'scAdd', op: 'exists' }]];
    const type = ['action', 'abandonment', 'sessionEnd'][i % 3];
    return { kind: 'Trigger', id: `unrelated-${i}`, name: `Unrelated ${i}`, source: 'shop-web', type, include: { containers: include }, inactivity: '1s' };
  });

  it('the 10 real ones still fire exactly as the reference says, and none of the others', async () => {
    expect(realDocuments).toHaveLength(10);
    const prefix = newPrefix();
    const keys = new Keys(prefix, 4);
    await putDefinitions(redis, keys, { inactivity: '1s' }, []);
    const all = [...unrelated.slice(0, 500), ...realDocuments, ...unrelated.slice(500)];
    for (let i = 0; i < all.length; i += 50) await Promise.all(all.slice(i, i + 50).map((doc) => putTrigger(redis, keys, doc)));
    const detect = await startDetectRuntime({ redisUrl: url, prefix, instance: 'many', detect: { settle: '200ms' } });
    try {
      const t0 = Date.now() - 60_000;
      const visit = (visitorId: string, hits: Array<Partial<Hit>>): Hit[] => hits.map((fields, n) => makeHit(visitorId, { id: `${visitorId}-${n}`, ts: t0 + n * 50, ...fields }));
      const visits = [
        visit(`${prefix}-shopper`, [
          { type: 'page', pageName: 'product', events: ['prodView'], dims: { eVar5: 'gold', eVar2: 'x1' } }, // + unrelated-1
          { pageName: 'product', events: ['scAdd'], products: [{ sku: 'BOOT', category: 'shoes' }], dims: { eVar5: 'gold', prop3: 'nothing' } },
          { type: 'page', pageName: 'cart' },
        ]),
        visit(`${prefix}-signup`, [{ type: 'page', pageName: 'home' }, { events: ['event7'], dims: { eVar7: 'x6' } }]),
        visit(`${prefix}-viewer`, [
          { pageName: 'Deals', events: ['prodView'] }, { events: ['prodView'] }, { events: ['search'], searchTerm: 'red boots' }, { events: ['event101'] },
        ]),
        visit(`${prefix}-buyer`, [{ type: 'page', pageName: 'home' }, { events: ['scAdd'], products: [{ sku: 'X', category: 'shoes' }] }, { events: ['scCheckout', 'purchase'] }]),
        // unrelated-3 (event103), unrelated-4 (eVar5 eq x4), unrelated-2 (prop3 contains y2 + scAdd)
        visit(`${prefix}-unrelated`, [{ events: ['event103'] }, { dims: { eVar5: 'x4', prop3: 'my-y2' }, events: ['scAdd'], products: [{ sku: 'Y' }] }]),
      ];
      const sends = visits.flat().sort((a, b) => (a.id < b.id ? 1 : -1)); // out of order
      await appendEntries(redis, keys, sends.map((hit) => [hit]));
      await waitFor('every hit applied and every timer decided', () => allDecided(redis, keys), 20_000, 50);
      const triggers = all.map((doc) => parseTrigger(doc));
      const expected = expectedFires(triggers, visits);
      const fired = countFires(await firedRecords(redis, keys));
      expect(differences(fired, expected)).toEqual([]);
      // The test means something: every real trigger fired for someone, and the unrelated ones hit on purpose.
      // Near misses that must not fire: eVar7 x6 (unrelated-256 wants x256), event101 and prop3 'nothing'.
      const firedTriggers = new Set([...fired.keys()].map((k) => k.split('|')[1]));
      expect(realDocuments.filter((doc) => !firedTriggers.has(doc.id)).map((doc) => doc.id)).toEqual([]);
      expect([...firedTriggers].filter((name) => name?.startsWith('unrelated-')).sort()).toEqual(['unrelated-1', 'unrelated-2', 'unrelated-3', 'unrelated-4']);
    } finally {
      await detect.close();
    }
  }, 60_000);
});

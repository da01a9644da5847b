// GET /admin/journal (SPEC §5.1) as a named consumer pulls it: Adobe-shaped trigger messages,
// pages across partitions with a cursor that never skips and never repeats, a position that
// survives without `since`, independent consumers, and a trigger log that trimming keeps for
// them; bad cursors and names are 400s.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { journalGroup } from '../../src/admin/journal.js';
import { encodeFiredRecord, type FiredRecord } from '../../src/model/trigger-message.js';
import { startTestAdmin, type TestAdmin } from './admin-helpers.js';

let admin: TestAdmin;
let fired = 0;

function record(visitorId: string): FiredRecord {
  const at = 1_764_330_000_000 + fired++;
  return {
    triggerId: '0b6c5f4e-1d0a-4a8e-9b59-6f1f2a3b4c5d',
    triggerName: 'cart-abandonment',
    version: 1,
    source: 'shop-web',
    visitorId,
    firedAt: at,
    firstHitTs: at - 600_000,
    lastHitTs: at - 1000,
    path: [{ container: 0, ts: at - 1000 }],
    metadata: { pageName: ['cart'] },
    cart: [{ sku: 'SKU-1', quantity: 1, price: 19.9 }],
    aliases: { userId: `u-${visitorId}` },
    type: 'abandonment',
  };
}

/** Appends trigger messages for visitors `v<from>` … `v<to - 1>` to their partitions' logs; returns the visitors. */
async function fire(from: number, to: number): Promise<string[]> {
  const { redis, keys } = admin.runtime;
  const visitors: string[] = [];
  for (let i = from; i < to; i++) {
    const visitor = `v${i}`;
    visitors.push(visitor);
    await redis.xadd(keys.stream(keys.partitionOf(visitor), 'fired'), encodeFiredRecord(record(visitor)));
  }
  return visitors;
}

interface Page {
  messages: Array<{ event: { partition: number; offset: string; 'com.adobe.mcloud.pipeline.pipelineMessage': { 'com.adobe.mcloud.protocol.trigger': { mcId: string; triggerName: string } } } }>;
  next: string;
}

async function pull(consumer: string, since?: string, limit = 3): Promise<Page> {
  const query = new URLSearchParams({ consumer, limit: String(limit), ...(since === undefined ? {} : { since }) });
  const reply = await admin.call('GET', `/admin/journal?${query}`);
  expect(reply.status, JSON.stringify(reply.body)).toBe(200);
  return reply.body as Page;
}

const visitorsOf = (page: Page): string[] => page.messages.map((m) => m.event['com.adobe.mcloud.pipeline.pipelineMessage']['com.adobe.mcloud.protocol.trigger'].mcId);

beforeAll(async () => {
  admin = await startTestAdmin({ url: inject('redisUrl') }, {}, 4);
});
afterAll(() => admin.close());

describe('GET /admin/journal', () => {
  it('pages through every partition with a cursor: no gap, no duplicate, each message in Adobe shape', async () => {
    const sent = await fire(0, 20);
    expect(new Set(sent.map((v) => admin.runtime.keys.partitionOf(v))).size).toBeGreaterThan(1);
    const seen: string[] = [];
    let cursor: string | undefined;
    for (let i = 0; i < 20; i++) {
      const page = await pull('warehouse', cursor);
      if (page.messages.length === 0) break;
      expect(page.messages.length).toBeLessThanOrEqual(3);
      seen.push(...visitorsOf(page));
      cursor = page.next;
    }
    expect(seen.sort()).toEqual([...sent].sort());
    const first = (await pull('fresh', undefined, 1)).messages[0];
    expect(first?.event).toMatchObject({ envelopeType: 'DATA', topic: 'triggers', partition: expect.any(Number), offset: expect.stringMatching(/^\d+-\d+$/) });
    expect(first?.event['com.adobe.mcloud.pipeline.pipelineMessage']['com.adobe.mcloud.protocol.trigger']).toMatchObject({ triggerName: 'cart-abandonment', aliases: { userId: expect.any(String) } });
  });

  it('pulls new messages after the last page, and resumes from the last confirmed page without since', async () => {
    const end = await pull('warehouse', undefined, 1000);
    expect(end.messages).toEqual([]); // everything was confirmed by the last request with since
    const more = await fire(20, 26);
    const page1 = await pull('warehouse', end.next, 4);
    const page2 = await pull('warehouse', page1.next, 4);
    expect([...visitorsOf(page1), ...visitorsOf(page2)].sort()).toEqual(more.sort());
    // page2 was handed out but not confirmed (no request since page2.next): it comes again
    const again = await pull('warehouse', undefined, 4);
    expect(visitorsOf(again)).toEqual(visitorsOf(page2));
  });

  it('gives every named consumer every message, independently', async () => {
    const all = await pull('second', undefined, 1000);
    expect(all.messages).toHaveLength(26);
  });

  it('keeps what a consumer has not confirmed when the log is trimmed, and trims what all have', async () => {
    const single = await startTestAdmin({ url: inject('redisUrl') }, {}, 1);
    try {
      const { redis, keys } = single.runtime;
      const log = keys.stream(0, 'fired');
      for (let i = 0; i < 250; i++) await redis.xadd(log, encodeFiredRecord(record(`w${i}`)));
      const pullFrom = async (consumer: string, since?: string, limit = 200): Promise<Page> =>
        (await single.call('GET', `/admin/journal?${new URLSearchParams({ consumer, limit: String(limit), ...(since === undefined ? {} : { since }) })}`)).body as Page;
      const trim = async (): Promise<number> => Number(await redis.script('reboundTrim', [log], []));
      const first = await pullFrom('slow');
      await pullFrom('slow', first.next, 1); // confirms 200
      await pullFrom('lazy', undefined, 1); // a consumer that confirmed nothing yet
      expect((await redis.xinfoGroups(log)).map((g) => g.name).sort()).toEqual([journalGroup('lazy'), journalGroup('slow')]);
      expect(await trim()).toBe(0);
      expect((await pullFrom('lazy', undefined, 1000)).messages).toHaveLength(250);
      const lazy = await pullFrom('lazy', undefined, 200);
      await pullFrom('lazy', lazy.next, 1); // now both have confirmed 200
      expect(await trim()).toBeGreaterThanOrEqual(100); // whole stream nodes only (XTRIM ~)
      expect((await pullFrom('slow', first.next, 1000)).messages).toHaveLength(50);
    } finally {
      await single.close();
    }
  });

  it('lists the named consumers and drops one from every partition', async () => {
    const { redis, keys } = admin.runtime;
    await pull('dropme', undefined, 2); // reads 2 messages, confirms none
    const listed = await admin.call('GET', '/admin/journal/consumers');
    expect(listed.status).toBe(200);
    expect(listed.body.items.map((c: { name: string }) => c.name)).toEqual(expect.arrayContaining(['dropme', 'second', 'warehouse']));
    expect(listed.body.items.find((c: { name: string }) => c.name === 'dropme')).toEqual({ name: 'dropme', unconfirmed: 26 });
    const dropped = await admin.call('DELETE', '/admin/journal/consumers/dropme');
    expect(dropped).toMatchObject({ status: 200, body: { deleted: { consumer: 'dropme' } } });
    for (const p of keys.allPartitions()) expect((await redis.xinfoGroups(keys.stream(p, 'fired'))).map((g) => g.name)).not.toContain(journalGroup('dropme'));
    expect((await admin.call('GET', '/admin/journal/consumers')).body.items.map((c: { name: string }) => c.name)).not.toContain('dropme');
    const again = await admin.call('DELETE', '/admin/journal/consumers/dropme');
    expect(again.status).toBe(404);
    expect(again.body.error.code).toBe('ADMIN_NOT_FOUND');
    expect((await admin.call('DELETE', '/admin/journal/consumers/has%20space')).body.error.code).toBe('ADMIN_QUERY_INVALID');
    // Pulling again under the name starts over from the oldest retained message.
    expect((await pull('dropme', undefined, 1000)).messages).toHaveLength(26);
  });

  it('no longer keeps the log for a dropped consumer when trimming', async () => {
    const single = await startTestAdmin({ url: inject('redisUrl') }, {}, 1);
    try {
      const { redis, keys } = single.runtime;
      const log = keys.stream(0, 'fired');
      for (let i = 0; i < 250; i++) await redis.xadd(log, encodeFiredRecord(record(`d${i}`)));
      await single.call('GET', '/admin/journal?consumer=forgotten&limit=1');
      const trim = async (): Promise<number> => Number(await redis.script('reboundTrim', [log], []));
      expect(await trim()).toBe(0);
      expect((await single.call('DELETE', '/admin/journal/consumers/forgotten')).status).toBe(200);
      await redis.xgroupCreate(log, 'campaign', '$'); // another group that has read everything
      expect(await trim()).toBeGreaterThanOrEqual(200);
    } finally {
      await single.close();
    }
  });

  it('refuses a consumer name, a limit or a cursor it cannot use', async () => {
    const bad = async (query: string, code: string): Promise<void> => {
      const reply = await admin.call('GET', `/admin/journal?${query}`);
      expect(reply.status, query).toBe(400);
      expect(reply.body.error.code).toBe(code);
    };
    await bad('limit=3', 'ADMIN_QUERY_INVALID');
    await bad('consumer=has%20space', 'ADMIN_QUERY_INVALID');
    await bad('consumer=ok&limit=0', 'ADMIN_QUERY_INVALID');
    await bad('consumer=ok&limit=100000', 'ADMIN_QUERY_INVALID');
    await bad('consumer=ok&since=not-a-cursor', 'ADMIN_CURSOR_INVALID');
    const other = await pull('warehouse', undefined, 1);
    await bad(`consumer=ok&since=${other.next}`, 'ADMIN_CURSOR_INVALID');
  });
});

describe('GET /admin/journal on a Redis Cluster', () => {
  it('pages through partitions spread over the shards without gap or duplicate', async () => {
    const local = admin;
    admin = await startTestAdmin({ cluster: inject('redisClusterSeeds').split(',') }, {}, 4);
    try {
      const sent = await fire(100, 112);
      const seen: string[] = [];
      let page = await pull('cluster-reader', undefined, 5);
      while (page.messages.length > 0) {
        seen.push(...visitorsOf(page));
        page = await pull('cluster-reader', page.next, 5);
      }
      expect(seen.sort()).toEqual(sent.sort());
    } finally {
      await admin.close();
      admin = local;
    }
  });
});

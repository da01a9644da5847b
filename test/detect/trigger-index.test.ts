// Conditions on one hit, the hit-level container semantics of Adobe triggers, and the index that
// keeps per-hit cost independent of the number of triggers (SPEC §5).
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { Hit } from '../../src/model/hit.js';
import { parseTrigger, type DimensionCondition, type MetricCondition } from '../../src/model/trigger.js';
import type { StoredTrigger } from '../../src/model/trigger-store.js';
import { compileDimension, compileMetric } from '../../src/stages/detect/conditions.js';
import { dimensionValues } from '../../src/stages/detect/hit-values.js';
import { TriggerIndex } from '../../src/stages/detect/trigger-index.js';

function hit(fields: Partial<Hit> = {}): Hit {
  return { id: randomUUID(), source: 'shop-web', visitorId: 'v1', ts: 0, receivedAt: 0, type: 'page', events: [], ...fields };
}

let nextSlot = 1;
function stored(id: string, include: unknown[][], extra: Record<string, unknown> = {}): StoredTrigger {
  const definition = parseTrigger({ kind: 'Trigger', id, name: id, source: 'shop-web', type: 'action', include: { containers: include }, ...extra });
  return { ...definition, triggerId: randomUUID(), slot: nextSlot++, version: 1, updatedAt: 0 };
}

const shopHit = hit({
  events: ['scAdd', 'event7'],
  eventValues: { event7: 5 },
  pageName: 'Cart page',
  pageURL: 'https://shop.example/cart.html',
  referrer: 'https://facebook.com/',
  searchTerm: 'boots',
  products: [
    { sku: 'SKU-1', category: 'shoes' },
    { sku: 'SKU-2', category: 'hats' },
  ],
  dims: { eVar5: 'gold', 'properties.total': 42.5, 'context.page.path': '/cart', prop2: '17', 'properties.vip': true },
});

describe('hit values', () => {
  it('reads page fields, each product sku and category, and dims', () => {
    expect(dimensionValues(shopHit, 'pageName')).toEqual(['Cart page']);
    expect(dimensionValues(shopHit, 'product')).toEqual(['SKU-1', 'SKU-2']);
    expect(dimensionValues(shopHit, 'category')).toEqual(['shoes', 'hats']);
    expect(dimensionValues(shopHit, 'properties.total')).toEqual([42.5]);
    expect(dimensionValues(shopHit, 'context.page.path')).toEqual(['/cart']);
    expect(dimensionValues(shopHit, 'eVar9')).toEqual([]);
    expect(dimensionValues(shopHit, 'constructor')).toEqual([]);
    expect(dimensionValues(hit(), 'product')).toEqual([]);
  });
});

describe('conditions', () => {
  const dim = (dimension: string, op: DimensionCondition['op'], value?: DimensionCondition['value']): boolean =>
    compileDimension(value === undefined ? { dimension, op } : { dimension, op, value })(shopHit);
  const metric = (name: string, op: MetricCondition['op'], value?: number): boolean =>
    compileMetric(value === undefined ? { metric: name, op, scope: 'hit' } : { metric: name, op, value, scope: 'hit' })(shopHit);

  it('metric operators', () => {
    expect([metric('scAdd', 'exists'), metric('purchase', 'exists')]).toEqual([true, false]);
    expect([metric('event7', 'gte', 5), metric('event7', 'gte', 6)]).toEqual([true, false]);
    expect([metric('event7', 'lte', 5), metric('event7', 'lte', 4)]).toEqual([true, false]);
    expect([metric('event7', 'eq', 5), metric('event7', 'eq', 1)]).toEqual([true, false]);
    // No value given: the event counts once.
    expect([metric('scAdd', 'eq', 1), metric('scAdd', 'gte', 2)]).toEqual([true, false]);
    // Absent event: every comparison is false, even lte.
    expect(metric('purchase', 'lte', 10)).toBe(false);
  });

  it('string operators are case-sensitive and hold when any value passes', () => {
    expect([dim('pageName', 'eq', 'Cart page'), dim('pageName', 'eq', 'cart page')]).toEqual([true, false]);
    expect([dim('pageName', 'neq', 'Home'), dim('pageName', 'neq', 'Cart page')]).toEqual([true, false]);
    expect([dim('pageURL', 'contains', '/cart'), dim('pageURL', 'contains', '/CART')]).toEqual([true, false]);
    expect([dim('pageURL', 'notContains', 'checkout'), dim('pageURL', 'notContains', 'cart')]).toEqual([true, false]);
    expect([dim('referrer', 'startsWith', 'https://facebook'), dim('referrer', 'startsWith', 'facebook')]).toEqual([true, false]);
    expect([dim('pageURL', 'endsWith', '.html'), dim('pageURL', 'endsWith', '.htm')]).toEqual([true, false]);
    expect([dim('searchTerm', 'matches', '^bo+ts$'), dim('searchTerm', 'matches', '^Boots$')]).toEqual([true, false]);
    expect([dim('product', 'in', ['SKU-9', 'SKU-2']), dim('product', 'in', ['SKU-9'])]).toEqual([true, false]);
    // Multi-valued: SKU-1 ≠ SKU-2, so neq holds for one of the skus.
    expect(dim('product', 'neq', 'SKU-1')).toBe(true);
    expect(dim('category', 'eq', 'hats')).toBe(true);
    // Numbers and booleans compare as their text.
    expect([dim('properties.total', 'eq', 42.5), dim('properties.total', 'eq', '42.5'), dim('properties.vip', 'eq', 'true')]).toEqual([true, true, true]);
  });

  it('numeric operators', () => {
    expect([dim('properties.total', 'gt', 42), dim('properties.total', 'gt', 42.5)]).toEqual([true, false]);
    expect([dim('properties.total', 'gte', 42.5), dim('properties.total', 'gte', 43)]).toEqual([true, false]);
    expect([dim('prop2', 'lt', 18), dim('prop2', 'lt', 17)]).toEqual([true, false]);
    expect([dim('prop2', 'lte', 17), dim('prop2', 'lte', 16)]).toEqual([true, false]);
    expect([dim('pageName', 'gt', 0), dim('properties.vip', 'gt', 0)]).toEqual([false, false]);
  });

  it('exists, and every operator is false on an absent dimension', () => {
    expect([dim('eVar5', 'exists'), dim('eVar6', 'exists')]).toEqual([true, false]);
    for (const [op, value] of [['neq', 'x'], ['notContains', 'x'], ['eq', 'x'], ['in', ['x']], ['lt', 100], ['matches', '.*']] as const) {
      expect(dim('eVar6', op, value as DimensionCondition['value']), op).toBe(false);
    }
  });
});

describe('container semantics', () => {
  const boots = stored('referrer-boots', [[{ dimension: 'product', op: 'eq', value: 'BOOTS' }, { dimension: 'referrer', op: 'contains', value: 'facebook' }]]);
  const index = new TriggerIndex([boots]);
  const source = index.forSource('shop-web');

  it('a container is satisfied only by one hit meeting all its conditions', () => {
    const both = hit({ products: [{ sku: 'BOOTS' }], referrer: 'https://facebook.com' });
    expect(source?.evaluate(both)).toEqual([{ trigger: source?.triggers[0], include: [0], exclude: false }]);
    // The same two conditions split over two hits satisfy nothing.
    expect(source?.evaluate(hit({ products: [{ sku: 'BOOTS' }] }))).toEqual([]);
    expect(source?.evaluate(hit({ referrer: 'https://facebook.com' }))).toEqual([]);
  });

  it('reports every matching include container and the exclude flag', () => {
    const cart = stored('cart', [[{ metric: 'scAdd', op: 'exists' }], [{ dimension: 'pageName', op: 'contains', value: 'cart' }], [{ metric: 'prodView', op: 'gte', value: 3, scope: 'visit' }]], {
      exclude: { containers: [[{ metric: 'purchase', op: 'exists' }]] },
    });
    const s = new TriggerIndex([cart]).forSource('shop-web');
    const [match] = s?.evaluate(hit({ events: ['scAdd', 'purchase'], pageName: 'my cart' })) ?? [];
    expect(match?.include).toEqual([0, 1]);
    expect(match?.exclude).toBe(true);
    expect(s?.evaluate(hit({ events: ['purchase'] }))[0]).toMatchObject({ include: [], exclude: true });
    // A visit-only container is matched by a hit carrying its metric (the stage counts it).
    expect(s?.evaluate(hit({ events: ['prodView'] }))[0]?.include).toEqual([2]);
    expect(s?.triggers[0]?.visitConditions).toEqual([[], [], [{ metric: 'prodView', op: 'gte', value: 3, scope: 'visit' }]]);
    expect(s?.triggers[0]?.visitMetrics).toEqual(['prodView']);
    expect([...(s?.visitMetrics ?? [])]).toEqual(['prodView']);
  });

  it('a mixed container is decided by its hit-level conditions', () => {
    const mixed = stored('mixed', [[{ dimension: 'pageName', op: 'eq', value: 'cart' }, { metric: 'prodView', op: 'gte', value: 3, scope: 'visit' }]]);
    const s = new TriggerIndex([mixed]).forSource('shop-web');
    expect(s?.evaluate(hit({ pageName: 'cart' }))[0]?.include).toEqual([0]);
    expect(s?.evaluate(hit({ events: ['prodView'], pageName: 'home' }))).toEqual([]);
  });

  it('indexes enabled triggers only, per source', () => {
    const off = stored('off', [[{ metric: 'scAdd', op: 'exists' }]], { enabled: false });
    const elsewhere = stored('elsewhere', [[{ metric: 'scAdd', op: 'exists' }]], { source: 'other-site' });
    const idx = new TriggerIndex([off, elsewhere]);
    expect(idx.forSource('shop-web')).toBeUndefined();
    expect(idx.forSource('other-site')?.triggers.map((t) => t.stored.id)).toEqual(['elsewhere']);
  });
});

describe('index with 1,000 triggers', () => {
  const triggers: StoredTrigger[] = [];
  for (let i = 0; i < 100; i++) {
    triggers.push(stored(`match-${i}`, [[{ metric: 'scAdd', op: 'exists' }, { dimension: 'pageName', op: 'contains', value: i % 2 === 0 ? 'cart' : 'nope' }]]));
  }
  for (let i = 0; i < 900; i++) {
    const kind = i % 4;
    const condition =
      kind === 0
        ? { metric: `event${i + 1}`, op: 'exists' }
        : kind === 1
          ? { dimension: `properties.field${i}`, op: 'exists' }
          : kind === 2
            ? { dimension: 'pageName', op: 'eq', value: `page-${i}` }
            : { dimension: 'product', op: 'in', value: [`SKU-${i}`, `SKU-${i}b`] };
    triggers.push(stored(`other-${i}`, [[condition]]));
  }
  const source = new TriggerIndex(triggers).forSource('shop-web');

  it('evaluates only the containers a hit can reach', () => {
    expect(source?.triggers).toHaveLength(1000);
    const before = source?.stats.containersEvaluated ?? 0;
    const matches = source?.evaluate(hit({ events: ['scAdd'], pageName: 'cart', products: [{ sku: 'SKU-X' }], dims: { eVar5: 'gold' } })) ?? [];
    expect((source?.stats.containersEvaluated ?? 0) - before).toBe(100);
    expect(matches.map((m) => m.trigger.stored.id)).toEqual(Array.from({ length: 50 }, (_, i) => `match-${i * 2}`));
  });

  it('a hit mentioned by no trigger evaluates nothing', () => {
    const before = source?.stats.containersEvaluated ?? 0;
    expect(source?.evaluate(hit({ events: ['prodView'], pageName: 'home', products: [{ sku: 'SKU-Y', category: 'c' }], dims: { 'properties.other': 1 } }))).toEqual([]);
    expect(source?.stats.containersEvaluated).toBe(before);
  });

  it('exact values and metrics reach just their own containers', () => {
    const before = source?.stats.containersEvaluated ?? 0;
    const matches = source?.evaluate(hit({ events: ['event1'], pageName: 'page-2', products: [{ sku: 'SKU-3b' }, { sku: 'SKU-3' }], dims: { 'properties.field1': 'x' } })) ?? [];
    expect((source?.stats.containersEvaluated ?? 0) - before).toBe(4);
    expect(matches.map((m) => m.trigger.stored.id)).toEqual(['other-0', 'other-1', 'other-2', 'other-3']);
  });
});

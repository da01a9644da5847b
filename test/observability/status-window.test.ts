// The one-minute windows behind /status and `rebound status`: increases of this process's own
// counters and histograms since the window's start, quantiles interpolated as PromQL's
// histogram_quantile does, and several processes' windows added before taking a quantile.
import { describe, expect, it } from 'vitest';
import { counter, histogram } from '../../src/core/metrics.js';
import { StatusWindow, bucketsOf, mergeBuckets, quantile, rateOf, sumOf } from '../../src/core/status-window.js';

describe('quantile', () => {
  const buckets = { bounds: [0.1, 1, 10], counts: [50, 90, 100, 100] };

  it('interpolates inside the bucket holding the rank, from 0 for the first one', () => {
    expect(quantile(buckets, 0.5)).toBeCloseTo(0.1);
    expect(quantile(buckets, 0.25)).toBeCloseTo(0.05);
    expect(quantile(buckets, 0.7)).toBeCloseTo(0.1 + 0.9 * (20 / 40));
    expect(quantile(buckets, 0.99)).toBeCloseTo(1 + 9 * (9 / 10));
  });

  it('answers the highest finite bound in the +Inf bucket, and null without observations', () => {
    expect(quantile({ bounds: [1, 2], counts: [0, 0, 4] }, 0.5)).toBe(2);
    expect(quantile({ bounds: [1, 2], counts: [0, 0, 0] }, 0.5)).toBeNull();
  });

  it('adds processes\' windows bound by bound before taking the quantile', () => {
    const merged = mergeBuckets([
      { bounds: [1, 10], counts: [10, 10, 10] },
      { bounds: [1, 10], counts: [0, 90, 90] },
    ]);
    expect(merged).toEqual({ bounds: [1, 10], counts: [10, 100, 100] });
    expect(quantile(merged, 0.99)).toBeCloseTo(1 + 9 * (89 / 90));
  });

  it('reads prom-client bucket groups, +Inf included', () => {
    expect(bucketsOf({ '10': 3, '0.5': 1, '+Inf': 4 })).toEqual({ bounds: [0.5, 10], counts: [1, 3, 4] });
  });
});

describe('StatusWindow', () => {
  const hits = counter('rebound_test_window_hits_total', 'test counter', ['result']);
  const latency = histogram('rebound_test_window_seconds', 'test histogram', ['stage'], [0.1, 1, 10]);

  it('counts what happened since the window started, per label when asked, and histograms per bound', async () => {
    hits.labels('written').inc(5); // before the window: not in its deltas, but in its totals
    const window = new StatusWindow({
      written: { metric: 'rebound_test_window_hits_total', where: (l) => l.result === 'written' },
      byResult: { metric: 'rebound_test_window_hits_total', by: 'result' },
      latency: { metric: 'rebound_test_window_seconds' },
      missing: { metric: 'rebound_not_registered_total' },
    });
    hits.labels('written').inc(3);
    hits.labels('rejected').inc(2);
    latency.labels('a').observe(0.05);
    latency.labels('b').observe(5);
    const reading = await window.read();
    expect(reading.totals.written).toEqual({ '': 8 });
    expect(reading.deltas.written).toEqual({ '': 8 }); // the window started empty, with the process
    expect(reading.deltas.byResult).toEqual({ written: 8, rejected: 2 });
    expect(bucketsOf(reading.deltas.latency)).toEqual({ bounds: [0.1, 1, 10], counts: [1, 1, 2, 2] });
    expect(sumOf(reading.deltas.missing)).toBe(0);
    expect(rateOf({ ...reading, seconds: 2 }, 'byResult')).toBe(5);
    expect(rateOf({ ...reading, seconds: 0.5 }, 'byResult')).toBe(0);
  });

  it('forgets what happened before its span', async () => {
    hits.labels('late').inc(4);
    const window = new StatusWindow({ late: { metric: 'rebound_test_window_hits_total', where: (l) => l.result === 'late' } }, { spanMs: 0, now: Date.now() - 1000 });
    hits.labels('late').inc(1);
    const reading = await window.read();
    expect(reading.deltas.late).toEqual({ '': 0 });
    expect(reading.totals.late).toEqual({ '': 5 });
  });
});

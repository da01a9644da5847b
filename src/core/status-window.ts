// Rolling windows over this process's own counters and histograms, so that /status can say
// "hits/s over the last minute" or "fire→send p99 over the last minute" without Prometheus.
// A sampler reads the registry every few seconds; a reading is the difference between now and
// the oldest sample still inside the span. Counters start at zero with the process, so the
// first sample (taken when the window is created) is an empty one.
import { metricsRegistry } from './metrics.js';

/** One tracked series: a counter summed (optionally per label value), or a histogram's buckets. */
export interface SeriesSpec {
  /** Registered name (a histogram's name, without `_bucket`). */
  metric: string;
  /** Keeps only the samples whose labels pass. */
  where?: (labels: Readonly<Record<string, string>>) => boolean;
  /** Sums per value of this label instead of in total. A histogram is always summed per `le`. */
  by?: string;
}

/** Per tracked key, per group (label value, `le`, or `` for a plain total), a value. */
type Values = Map<string, Map<string, number>>;

interface Sample {
  at: number;
  values: Values;
}

export interface WindowReading {
  /** Seconds between the baseline sample and now (≤ the span). */
  seconds: number;
  /** Per key and group, the increase over those seconds. */
  deltas: Record<string, Record<string, number>>;
  /** Per key and group, the value now (since the process started). */
  totals: Record<string, Record<string, number>>;
}

/**
 * Cumulative bucket counts of a histogram: `counts[i]` observations ≤ `bounds[i]`, and one more
 * count at the end for +Inf (the total). Plain numbers only, so it survives JSON.
 */
export interface Buckets {
  bounds: number[];
  counts: number[];
}

export class StatusWindow {
  readonly #specs: Readonly<Record<string, SeriesSpec>>;
  readonly #everyMs: number;
  readonly #spanMs: number;
  readonly #samples: Sample[];
  #timer: NodeJS.Timeout | undefined;

  constructor(specs: Readonly<Record<string, SeriesSpec>>, options: { everyMs?: number; spanMs?: number; now?: number } = {}) {
    this.#specs = specs;
    this.#everyMs = options.everyMs ?? 5000;
    this.#spanMs = options.spanMs ?? 60_000;
    this.#samples = [{ at: options.now ?? Date.now(), values: new Map() }];
  }

  start(): void {
    this.#timer ??= setInterval(() => void this.#sample().then((s) => this.#keep(s)), this.#everyMs).unref();
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  async read(): Promise<WindowReading> {
    const now = await this.#sample();
    const baseline = this.#samples.find((s) => s.at >= now.at - this.#spanMs) ?? now;
    const deltas: WindowReading['deltas'] = {};
    const totals: WindowReading['totals'] = {};
    for (const key of Object.keys(this.#specs)) {
      const current = now.values.get(key) ?? new Map<string, number>();
      const before = baseline.values.get(key);
      totals[key] = Object.fromEntries(current);
      deltas[key] = Object.fromEntries([...current].map(([group, value]) => [group, Math.max(0, value - (before?.get(group) ?? 0))]));
    }
    return { seconds: Math.max(0, (now.at - baseline.at) / 1000), deltas, totals };
  }

  #keep(sample: Sample): void {
    this.#samples.push(sample);
    while (this.#samples.length > 1 && (this.#samples[1] as Sample).at <= sample.at - this.#spanMs) this.#samples.shift();
  }

  async #sample(): Promise<Sample> {
    const at = Date.now();
    const values: Values = new Map();
    for (const [key, spec] of Object.entries(this.#specs)) {
      const metric = metricsRegistry.getSingleMetric(spec.metric);
      if (metric === undefined) continue;
      const read = await metric.get();
      const groups = new Map<string, number>();
      const histogram = String(read.type) === 'histogram'; // prom-client's typings say enum, its values are strings
      for (const sample of read.values) {
        const labels = sample.labels as Record<string, string>;
        const name = (sample as { metricName?: string }).metricName ?? read.name;
        if (histogram && name !== `${spec.metric}_bucket`) continue;
        if (spec.where && !spec.where(labels)) continue;
        const group = histogram ? String(labels.le) : spec.by === undefined ? '' : String(labels[spec.by] ?? '');
        groups.set(group, (groups.get(group) ?? 0) + sample.value);
      }
      values.set(key, groups);
    }
    return { at, values };
  }
}

/** The summed value of one key of a reading's deltas (or totals). */
export function sumOf(groups: Readonly<Record<string, number>> | undefined): number {
  return Object.values(groups ?? {}).reduce((a, b) => a + b, 0);
}

/** Per-second rate of a key over the reading's window; 0 for a window under a second. */
export function rateOf(reading: WindowReading, key: string): number {
  return reading.seconds < 1 ? 0 : sumOf(reading.deltas[key]) / reading.seconds;
}

/** A histogram key of a reading (groups by `le`) as Buckets. */
export function bucketsOf(groups: Readonly<Record<string, number>> | undefined): Buckets {
  const entries = Object.entries(groups ?? {})
    .map(([le, count]) => [le === '+Inf' ? Infinity : Number(le), count] as const)
    .sort((a, b) => a[0] - b[0]);
  const finite = entries.filter(([le]) => le !== Infinity);
  const total = entries.find(([le]) => le === Infinity)?.[1] ?? finite[finite.length - 1]?.[1] ?? 0;
  return { bounds: finite.map(([le]) => le), counts: [...finite.map(([, count]) => count), total] };
}

/** Adds bucket sets (several processes' windows of one histogram); a bound missing on one side takes that side's next count up. */
export function mergeBuckets(all: readonly Buckets[]): Buckets {
  const bounds = [...new Set(all.flatMap((b) => b.bounds))].sort((a, b) => a - b);
  const countAt = (b: Buckets, bound: number): number => {
    const i = b.bounds.findIndex((le) => le >= bound);
    return (i < 0 ? b.counts[b.counts.length - 1] : b.counts[i]) ?? 0;
  };
  const totals = all.reduce((sum, b) => sum + (b.counts[b.counts.length - 1] ?? 0), 0);
  return { bounds, counts: [...bounds.map((bound) => all.reduce((sum, b) => sum + countAt(b, bound), 0)), totals] };
}

/**
 * The q-quantile of cumulative buckets, interpolated linearly inside a bucket as PromQL's
 * histogram_quantile does (the first bucket starts at 0); null when nothing was observed. A
 * rank in the +Inf bucket answers the highest finite bound.
 */
export function quantile(buckets: Buckets, q: number): number | null {
  const total = buckets.counts[buckets.counts.length - 1] ?? 0;
  if (total === 0) return null;
  const rank = q * total;
  for (let i = 0; i < buckets.bounds.length; i++) {
    const count = buckets.counts[i] as number;
    if (count < rank) continue;
    const upper = buckets.bounds[i] as number;
    const lower = i === 0 ? 0 : (buckets.bounds[i - 1] as number);
    const below = i === 0 ? 0 : (buckets.counts[i - 1] as number);
    return count === below ? upper : lower + ((upper - lower) * (rank - below)) / (count - below);
  }
  return buckets.bounds[buckets.bounds.length - 1] ?? null;
}

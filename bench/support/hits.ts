// Realistic canonical hits (SPEC §3) for the benchmarks: a cart add of about 200 bytes in
// MessagePack, from visitors spread over the partitions. Seeded, so every run loads the same data.
import { encode } from '../../src/core/codec.js';
import type { Keys } from '../../src/core/redis/keys.js';

export interface BenchHit {
  id: string;
  source: string;
  visitorId: string;
  ts: number;
  type: 'track';
  events: string[];
  pageName: string;
  products: Array<{ sku: string; price: number; quantity: number }>;
}

/** mulberry32: a small seeded generator; Math.random would make runs load different data. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

const PRODUCTS = ['Trail Runner 2', 'Merino Crew Sock', 'Rain Shell Jacket', 'Down Vest', 'Canvas Tote', 'Wool Beanie', 'Hiking Boot GTX', 'Running Tee'];
const COLOURS = ['Blue', 'Black', 'Olive', 'Red', 'Grey'];

export class HitFactory {
  readonly #random: () => number;
  /** Visitor ids per partition (ECID-like, 38 digits), so that an entry's hits share a partition as ingest writes them. */
  readonly #visitors: string[][];
  #seq = 0;

  constructor(keys: Keys, visitorsPerPartition = 500, seed = 42) {
    this.#random = seededRandom(seed);
    this.#visitors = keys.allPartitions().map(() => []);
    const wanted = visitorsPerPartition * keys.partitions;
    let filled = 0;
    while (filled < wanted) {
      const id = this.#digits(38);
      const bucket = this.#visitors[keys.partitionOf(id)] as string[];
      if (bucket.length < visitorsPerPartition) {
        bucket.push(id);
        filled++;
      }
    }
  }

  #digits(n: number): string {
    let text = String(1 + Math.floor(this.#random() * 9));
    while (text.length < n) text += Math.floor(this.#random() * 1e9).toString().padStart(9, '0');
    return text.slice(0, n);
  }

  #pick<T>(list: readonly T[]): T {
    return list[Math.floor(this.#random() * list.length)] as T;
  }

  hit(partition: number, ts: number): BenchHit {
    const seq = ++this.#seq;
    const product = this.#pick(PRODUCTS);
    const colour = this.#pick(COLOURS);
    return {
      id: `ajs-${seq.toString(36).padStart(8, '0')}-${this.#digits(16)}`,
      source: 'shop-web',
      visitorId: this.#pick(this.#visitors[partition] as string[]),
      ts,
      type: 'track',
      events: ['scAdd'],
      pageName: `${product} (${colour})`,
      products: [{ sku: `SKU-${this.#digits(6)}-${colour.slice(0, 3).toUpperCase()}`, price: Math.round(this.#random() * 20_000) / 100, quantity: 1 + Math.floor(this.#random() * 3) }],
    };
  }

  /**
   * Encoded stream entries: entry i belongs to partition i mod P and carries `hitsPerEntry` hits
   * of that partition (an array when more than one, the hit itself otherwise).
   */
  entries(count: number, hitsPerEntry: number, partitions: number, startTs = Date.UTC(2025, 0, 15, 12)): Buffer[] {
    const out: Buffer[] = [];
    for (let i = 0; i < count; i++) {
      const partition = i % partitions;
      const ts = startTs + i;
      if (hitsPerEntry === 1) out.push(encode(this.hit(partition, ts)));
      else out.push(encode(Array.from({ length: hitsPerEntry }, () => this.hit(partition, ts))));
    }
    return out;
  }
}

// The simulated shoppers of the end-to-end scenarios (bench/scenarios/e2e.ts) and what their load
// generator (bench/workers/shopper-load.ts) is asked and answers. A shopper is a short visit of
// Segment track messages, a step apart: a product view, one or two cart adds, and then either
// nothing (an abandoner: exactly one cart-abandonment email is expected) or a checkout and an
// order (a buyer: no email). The anonymousId says which ("a-…" or "b-…"), so whoever counts the
// sent emails can tell a wrong one; the userId is one of the preloaded profiles. Seeded: every
// system under test gets the same shoppers in the same order.
import { seededRandom } from '../support/hits.js';

export interface ShopperSpec {
  host: string;
  port: number;
  /** '/v1/batch' with `{batch, sentAt}` bodies (Segment), or '/v1/hits' with the bare message array. */
  path: string;
  body: 'segment-batch' | 'array';
  writeKey: string;
  /** Shoppers arriving per second (open loop: whatever the server does). */
  shoppersPerSec: number;
  /** Share of shoppers who buy (the rest abandon their cart). */
  buyShare: number;
  /** Time between two messages of a visit. */
  stepMs: number;
  /** Arrivals stop after this; the generator then sends the visits' remaining steps and waits for answers. */
  durationMs: number;
  /** Messages per request (Segment: 100 per batch). */
  batchSize: number;
  /** Requests in flight at most (keep-alive connections). */
  connections: number;
  /** userIds are cust-0 … cust-(profiles − 1). */
  profiles: number;
  /** SKU-0 … SKU-(products − 1). */
  products: number;
  seed: number;
  /** Processes whose CPU time is read at the start and end of the load (/proc). */
  pids: Record<string, number>;
}

export interface ShopperResult {
  seconds: number;
  shoppers: number;
  /** Abandoners every message of whom was accepted: one email each is expected. */
  abandoners: number;
  buyers: number;
  /** Shoppers with at least one message refused or unanswered (their outcome is not predicted). */
  incomplete: number;
  messagesSent: number;
  messagesAccepted: number;
  requests: number;
  errors: Record<string, number>;
  latencyP50Ms: number;
  latencyP99Ms: number;
  latencyMaxMs: number;
  /** Largest number of messages that were due but waited for a free connection. */
  maxBacklog: number;
  cpuSeconds: Record<string, number | null>;
}

export interface Step {
  offsetMs: number;
  message: Record<string, unknown>;
}

export interface Shopper {
  id: string;
  buyer: boolean;
  steps: Step[];
}

const names = ['Trail Runner 2', 'Merino Crew Sock', 'Rain Shell Jacket', 'Down Vest', 'Canvas Tote', 'Wool Beanie'];
const library = { name: '@segment/analytics-node', version: '3.1.0' };

export const sku = (i: number): string => `SKU-${i}`;
export const productPrice = (i: number): number => 5 + (i % 200) + 0.9;

/** Shopper number n of a run (the same n gives the same shopper for every system). */
export class ShopperFactory {
  readonly #random: () => number;
  readonly #spec: Pick<ShopperSpec, 'buyShare' | 'stepMs' | 'profiles' | 'products'>;

  constructor(spec: Pick<ShopperSpec, 'buyShare' | 'stepMs' | 'profiles' | 'products' | 'seed'>) {
    this.#random = seededRandom(spec.seed);
    this.#spec = spec;
  }

  #int(n: number): number {
    return Math.floor(this.#random() * n);
  }

  shopper(n: number): Shopper {
    const { buyShare, stepMs, profiles, products } = this.#spec;
    const buyer = this.#random() < buyShare;
    const id = `${buyer ? 'b' : 'a'}-${n.toString(36)}-${this.#int(1e9).toString(36)}`;
    const userId = `cust-${this.#int(profiles)}`;
    const items = this.#random() < 0.5 ? [this.#int(products)] : [this.#int(products), this.#int(products)];
    const track = (k: number, event: string, properties: Record<string, unknown>): Step => ({
      offsetMs: k * stepMs,
      message: {
        type: 'track', event, anonymousId: id, userId, messageId: `${id}-${k}`, properties,
        context: { library, page: { url: `https://shop.example.com/p/${sku(items[0] as number)}`, title: names[(items[0] as number) % names.length] } },
      },
    });
    const item = (p: number, quantity = 1): Record<string, unknown> => ({ product_id: sku(p), sku: sku(p), price: productPrice(p), quantity, currency: 'EUR' });
    const steps = [track(0, 'Product Viewed', item(items[0] as number))];
    items.forEach((p, i) => steps.push(track(1 + i, 'Product Added', item(p, 1 + (p % 2)))));
    if (buyer) {
      const k = steps.length;
      steps.push(track(k, 'Checkout Started', { products: items.map((p) => item(p)) }));
      steps.push(track(k + 1, 'Order Completed', { order_id: `o-${id}`, total: 99.9, currency: 'EUR', products: items.map((p) => item(p)) }));
    }
    return { id, buyer, steps };
  }
}

/** Messages per shopper on average: a view, 1.5 adds, and for buyers a checkout and an order. */
export const messagesPerShopper = (buyShare: number): number => 2.5 + 2 * buyShare;

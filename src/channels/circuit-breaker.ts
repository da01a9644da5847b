// The circuit breaker in front of the primary SMTP server (SPEC §7): after `failures` consecutive
// server-level failures the primary is skipped for `coolDownMs`; then one message probes it
// (half-open) while the others keep using the fallback; a success closes the breaker again.
import type { Clock } from '../core/clock.js';

export type Route = 'primary' | 'fallback';
type State = 'closed' | 'open' | 'probing';

export class CircuitBreaker {
  readonly #threshold: number;
  readonly #coolDownMs: number;
  readonly #clock: Clock;
  #state: State = 'closed';
  #failures = 0;
  #retryAt = 0;

  constructor(threshold: number, coolDownMs: number, clock: Clock) {
    this.#threshold = threshold;
    this.#coolDownMs = coolDownMs;
    this.#clock = clock;
  }

  /** True while the primary is skipped (open or probing). */
  get open(): boolean {
    return this.#state !== 'closed';
  }

  /** Where the next message goes. */
  route(): Route {
    if (this.#state === 'closed') return 'primary';
    if (this.#state === 'open' && this.#clock.now() >= this.#retryAt) {
      this.#state = 'probing';
      return 'primary';
    }
    return 'fallback';
  }

  /** The primary answered (even with a reply that fails the message: it is up). */
  primaryUp(): void {
    this.#state = 'closed';
    this.#failures = 0;
  }

  /** The primary failed as a server (refused, timed out, 421, authentication). */
  primaryDown(): void {
    this.#failures++;
    if (this.#state === 'probing' || this.#failures >= this.#threshold) {
      this.#state = 'open';
      this.#retryAt = this.#clock.now() + this.#coolDownMs;
    }
  }
}

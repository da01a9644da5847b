// The one retry helper: exponential backoff with full jitter and a cap; gives up at once on an
// error that is not retriable, or when the attempts or the signal run out.
import { sleep } from './clock.js';
import { ReboundError } from './errors.js';

export interface BackoffOptions {
  baseMs: number;
  capMs: number;
}

/** Delay before attempt `attempt` (1-based): random in [0, min(cap, base·2^(attempt-1))]. */
export function backoffDelay(attempt: number, { baseMs, capMs }: BackoffOptions, random = Math.random): number {
  const ceiling = Math.min(capMs, baseMs * 2 ** Math.min(attempt - 1, 30));
  return Math.round(random() * ceiling);
}

export interface RetryOptions extends BackoffOptions {
  /** Attempts in all, including the first; Infinity retries until the signal aborts. */
  attempts: number;
  signal?: AbortSignal;
  onRetry?: (err: unknown, attempt: number, delayMs: number) => void;
}

function retriable(err: unknown): boolean {
  return !(err instanceof ReboundError) || err.retriable;
}

export async function retry<T>(operation: (attempt: number) => Promise<T>, options: RetryOptions): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await operation(attempt);
    } catch (err) {
      if (!retriable(err) || attempt >= options.attempts || options.signal?.aborted) throw err;
      const delay = backoffDelay(attempt, options);
      options.onRetry?.(err, attempt, delay);
      await sleep(delay, options.signal);
      if (options.signal?.aborted) throw err;
    }
  }
}

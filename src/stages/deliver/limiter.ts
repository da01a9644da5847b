// Bounded concurrency of one channel in one process: at most `max` hand-offs at a time, the
// others wait in order. A waiter gives up at its deadline, so a batch never waits for a slot
// longer than its consumer group allows (see deliver-settings.ts).

export class Limiter {
  readonly #max: number;
  #active = 0;
  readonly #waiting: Array<() => void> = [];

  constructor(max: number) {
    this.#max = max;
  }

  get active(): number {
    return this.#active;
  }

  /** Runs `work` in a slot; resolves undefined (work not run) when `deadline` (epoch ms) passes first. */
  async run<T>(work: () => Promise<T>, deadline: number): Promise<T | undefined> {
    if (!(await this.#acquire(deadline))) return undefined;
    try {
      return await work();
    } finally {
      this.#active--;
      this.#waiting.shift()?.();
    }
  }

  #acquire(deadline: number): Promise<boolean> {
    if (this.#active < this.#max) {
      this.#active++;
      return Promise.resolve(true);
    }
    return new Promise((resolve) => {
      const take = (): void => {
        clearTimeout(timer);
        this.#active++;
        resolve(true);
      };
      const timer = setTimeout(() => {
        const at = this.#waiting.indexOf(take);
        if (at >= 0) this.#waiting.splice(at, 1);
        resolve(false);
      }, Math.max(0, deadline - Date.now()));
      this.#waiting.push(take);
    });
  }
}

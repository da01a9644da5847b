// Ordered, idempotent shutdown: steps registered while starting run in reverse order (stop
// accepting → drain stages → flush → close channels → close Redis), each bounded by what is
// left of the shutdown timeout; every step's error is collected, none stops the others.
import { ReboundError } from './errors.js';

type Step = { name: string; run: () => Promise<void> | void };

export class Lifecycle {
  #steps: Step[] = [];
  #closing: Promise<Error[]> | undefined;

  /** Registers a step; steps run last-registered first. */
  onShutdown(name: string, run: Step['run']): void {
    this.#steps.push({ name, run });
  }

  get closing(): boolean {
    return this.#closing !== undefined;
  }

  /** Runs every step once; later calls return the same result. Resolves with the errors. */
  shutdown(timeoutMs: number): Promise<Error[]> {
    this.#closing ??= this.#runSteps(Date.now() + timeoutMs);
    return this.#closing;
  }

  async #runSteps(deadline: number): Promise<Error[]> {
    const errors: Error[] = [];
    for (const step of [...this.#steps].reverse()) {
      const left = Math.max(0, deadline - Date.now());
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new ReboundError('SHUTDOWN_TIMEOUT', `shutdown step "${step.name}" did not finish in time`)), left);
      });
      try {
        await Promise.race([Promise.resolve().then(step.run), timeout]);
      } catch (err) {
        errors.push(err instanceof Error ? err : new Error(String(err)));
      } finally {
        clearTimeout(timer);
      }
    }
    return errors;
  }
}

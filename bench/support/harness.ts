// What a benchmark scenario is and what it gets from the harness (bench/run.ts): a progress
// line on stderr, notes for its section of docs/benchmarks.md, and a deadline it must respect.

/** One measured case: printed as one JSON line and one row of the scenario's table. */
export interface ResultRow {
  scenario: string;
  case: string;
  [metric: string]: string | number | boolean | null;
}

export interface ScenarioContext {
  /** Replaces the progress line (stderr); cheap, throttled when stderr is not a terminal. */
  progress(text: string): void;
  /** A line for the scenario's section of docs/benchmarks.md (and stderr). */
  note(text: string): void;
  /** Epoch ms by which the scenario must have returned; the harness aborts it after that. */
  deadline: number;
}

export interface Scenario {
  /** One or two sentences for the docs section: what is measured and against which baseline. */
  description: string;
  /** Column order of its table (keys no row has are left out; keys not listed go last). */
  columns?: readonly string[];
  /** Upper bound of the whole scenario, setup and teardown included. */
  timeoutMs: number;
  run(ctx: ScenarioContext): Promise<ResultRow[]>;
}

/** Progress on one stderr line: rewritten in place on a terminal, at most one line a second otherwise. */
export class Progress {
  readonly #tty = process.stderr.isTTY === true;
  #lastLine = 0;
  #shown = false;

  update(text: string): void {
    if (this.#tty) {
      process.stderr.write(`\r\x1b[2K${text.slice(0, (process.stderr.columns || 120) - 1)}`);
      this.#shown = true;
      return;
    }
    const now = Date.now();
    if (now - this.#lastLine < 1000) return;
    this.#lastLine = now;
    process.stderr.write(`${text}\n`);
  }

  /** A line that stays (notes, errors), without garbling the progress line. */
  line(text: string): void {
    this.clear();
    process.stderr.write(`${text}\n`);
  }

  clear(): void {
    if (this.#tty && this.#shown) process.stderr.write('\r\x1b[2K');
    this.#shown = false;
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Rounds for display and JSON: figures above 100 to integers, smaller ones to 3 significant digits. */
export function round(value: number): number {
  if (!Number.isFinite(value)) return value;
  if (Math.abs(value) >= 100) return Math.round(value);
  return Number(value.toPrecision(3));
}

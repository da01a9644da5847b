// What a stage is: a named consumer group over one stream name, and a function that turns a
// batch of decoded entries into, per entry, the outputs to append or the error it failed with.
// The runtime (stage-runner.ts) owns everything else: reading, committing, claiming, retries,
// dead letters, trimming, metrics and shutdown.
import type { ReboundError } from '../../core/errors.js';
import type { StreamName } from '../../core/redis/keys.js';

export interface StageItem<T> {
  /** Stream entry id. */
  id: string;
  value: T;
  /** How many times the entry has been delivered to the group, this time included. */
  deliveries: number;
  /** The entry's encoded bytes: a stage that forwards an entry unchanged outputs them as is. */
  data: Buffer;
}

/** An entry to append to a stream of the same partition, atomically with the input's ack. */
export interface StageOutput {
  stream: StreamName;
  /** Encoded with the codec, unless it is a Buffer already (then appended as is). */
  value: unknown;
}

export type ItemResult =
  | { ok: true; outputs: StageOutput[]; acknowledged?: boolean }
  | { ok: false; error: ReboundError };

export interface StageDefinition<T = unknown> {
  /** The consumer group name and the `stage` label of metrics. */
  name: string;
  /** The stream this stage reads, in every partition it serves. */
  input: StreamName;
  /** One result per item, in the same order. Throwing fails the whole batch (retried). */
  process(items: ReadonlyArray<StageItem<T>>, partition: number): Promise<ItemResult[]>;
}

export const succeed = (outputs: StageOutput[] = []): ItemResult => ({ ok: true, outputs });
export const fail = (error: ReboundError): ItemResult => ({ ok: false, error });
/**
 * The stage committed this item itself, atomically with its XACK (detect applies visitor state
 * and acknowledges the entries in one Lua script): the runtime only counts it.
 */
export const acknowledged = (): ItemResult => ({ ok: true, outputs: [], acknowledged: true });

// Builds and runs the atomic hand-off of one batch (lua/commit.lua): the outputs of the items
// that succeeded and the XACK of their inputs in one script call, plus the errors of the items
// that failed (kept for the dead-letter record). All keys belong to one partition.
import { encode } from '../../core/codec.js';
import type { ReboundError } from '../../core/errors.js';
import type { RedisPort } from '../../core/redis/client.js';
import type { Keys } from '../../core/redis/keys.js';
import type { StageOutput } from './stage.js';

export interface Success {
  id: string;
  outputs: readonly StageOutput[];
  /** The entry may have an error recorded from an earlier delivery. */
  clearError: boolean;
}

export interface Failure {
  id: string;
  error: ReboundError;
}

export interface CommitTarget {
  redis: RedisPort;
  keys: Keys;
  partition: number;
  input: string;
  group: string;
}

/** Error text kept for a failing entry: "CODE: message". */
export const errorText = (error: ReboundError): string => `${error.code}: ${error.message}`;

/** Resolves with the number of successes this call acknowledged (the rest were already acked). */
export async function commitBatch(target: CommitTarget, successes: readonly Success[], failures: readonly Failure[]): Promise<number> {
  const { keys, partition, input, group } = target;
  const scriptKeys = [keys.stream(partition, input), keys.stageErrors(partition, input, group)];
  const keyIndex = new Map<string, number>();
  const args: Array<string | Buffer | number> = [group, successes.length];
  for (const success of successes) {
    args.push(success.id, success.clearError ? '1' : '0', success.outputs.length);
    for (const output of success.outputs) {
      let index = keyIndex.get(output.stream);
      if (index === undefined) {
        scriptKeys.push(keys.stream(partition, output.stream));
        index = scriptKeys.length; // Lua's KEYS are 1-based
        keyIndex.set(output.stream, index);
      }
      args.push(index, Buffer.isBuffer(output.value) ? output.value : encode(output.value));
    }
  }
  args.push(failures.length);
  for (const failure of failures) args.push(failure.id, errorText(failure.error));
  return Number(await target.redis.script('reboundCommit', scriptKeys, args));
}

/** Moves one entry to the partition's dead-letter stream; false when it was acked meanwhile. */
export async function deadLetter(target: CommitTarget, id: string, deliveries: number, error: string): Promise<boolean> {
  const { keys, partition, input, group } = target;
  const scriptKeys = [keys.stream(partition, input), keys.deadLetters(partition, input), keys.stageErrors(partition, input, group)];
  return Number(await target.redis.script('reboundDeadLetter', scriptKeys, [group, id, deliveries, error])) === 1;
}

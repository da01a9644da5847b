// Starts a runner per stage definition for one process and registers their drain with the
// lifecycle, so SIGTERM stops reading, lets in-flight batches commit and then closes Redis.
import type { Runtime } from '../../core/bootstrap.js';
import type { ReboundConfig } from '../../core/config-schema.js';
import type { StageDefinition } from './stage.js';
import { StageRunner, type RunnerSettings } from './stage-runner.js';

export function runnerSettings(stages: ReboundConfig['stages']): RunnerSettings {
  return {
    batchSize: stages.batchSize,
    batchBytes: stages.batchBytes,
    maxInFlight: stages.maxInFlight,
    claimIdleMs: stages.claimIdle,
    maxDeliveries: stages.maxDeliveries,
    idlePollMs: stages.idlePoll,
    lingerMs: stages.linger,
    sharePartitions: stages.partitions === 'shared',
    recoverEveryMs: stages.recoverEvery,
    trimEveryMs: stages.trimEvery,
  };
}

/** The partitions this process may serve: every one (`shared`: its stages read their share of them), or the configured list. */
export function servedPartitions(runtime: Runtime): number[] {
  const chosen = runtime.config.stages.partitions;
  return typeof chosen === 'string' ? runtime.keys.allPartitions() : chosen.filter((p) => p < runtime.keys.partitions);
}

export async function startStages(runtime: Runtime, stages: ReadonlyArray<StageDefinition<never>>): Promise<StageRunner<never>[]> {
  const runners = stages.map(
    (stage) =>
      new StageRunner(stage, {
        redis: runtime.redis,
        keys: runtime.keys,
        consumer: runtime.consumer,
        partitions: servedPartitions(runtime),
        settings: runnerSettings(runtime.config.stages),
        logger: runtime.logger.child({ stage: stage.name }),
      }),
  );
  runtime.lifecycle.onShutdown('drain stages', () => Promise.all(runners.map((runner) => runner.stop())).then(() => undefined));
  for (const runner of runners) await runner.start();
  runtime.logger.info({ stages: runners.map((r) => r.name), consumer: runtime.consumer }, 'stages running');
  return runners;
}

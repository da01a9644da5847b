// The detect role: definitions kept current (polled version), the detect stage on the runtime,
// the timer task over the stage's share of the partitions, and the trigger log's retention; drained in order.
// Like the campaign role, it talks to Redis over a connection of its own without auto-pipelining
// on a single node (see RedisPort.duplicate): ioredis keeps one auto-pipeline in flight per
// connection, so a batch's script waited for the replies of the pipeline ahead of it and the
// process sat idle about a third of the time (docs/decisions.md).
import type { Runtime } from '../../core/bootstrap.js';
import { systemClock } from '../../core/clock.js';
import { asReboundError } from '../../core/errors.js';
import { DefinitionsWatcher } from '../../model/definitions-watcher.js';
import { servedPartitions, startStages } from '../runtime/run-stages.js';
import type { StageDefinition } from '../runtime/stage.js';
import { loadDetectDefinitions, type DetectDefinitions } from './definitions.js';
import { detectStage } from './detect-stage.js';
import { TimerTask } from './timers.js';
import { VisitorCache } from './visitor-cache.js';

export interface DetectRole {
  /** The partitions whose timers this process decides now (its stage's share). */
  timerPartitions(): readonly number[];
}

export async function startDetect(runtime: Runtime): Promise<DetectRole> {
  const { keys, logger, lifecycle, config } = runtime;
  // Closed last (shutdown steps run in reverse): after the stage and the timers drained.
  const redis = await runtime.redis.duplicate(`rebound-detect:${runtime.consumer.replace(/\s/g, '_')}`, { autoPipelining: false });
  lifecycle.onShutdown('detect redis connection', () => redis.close());
  const settings = config.detect;
  const watcher = new DefinitionsWatcher<DetectDefinitions>(redis, keys, () => loadDetectDefinitions(redis, keys, { settleMs: settings.settle }), {
    pollMs: settings.definitionsPoll,
    logger,
  });
  await watcher.start();
  lifecycle.onShutdown('detect definitions', () => watcher.stop());
  const definitions = (): DetectDefinitions => watcher.current;
  const cache = new VisitorCache(settings.stateCache);
  // detect.maxInFlight stands for stages.maxInFlight: more batches than the other stages (docs/decisions.md).
  const detectConfig = { ...config, stages: { ...config.stages, maxInFlight: settings.maxInFlight } };
  const [runner] = await startStages({ ...runtime, redis, config: detectConfig }, [detectStage(redis, keys, definitions, { visitorTtlMs: settings.visitorTtl, cache }) as StageDefinition<never>]);
  const partitions = servedPartitions(runtime);
  // Timers follow the stage's share of the partitions: with `stages.partitions: shared`, each
  // partition's timers are decided by the process reading its hits, and move with them.
  const timerPartitions = (): readonly number[] => runner?.partitions ?? partitions;
  const timers = new TimerTask({ redis, keys, partitions: timerPartitions, definitions, clock: systemClock, logger, settings: { tickMs: settings.timerTick, batch: settings.timerBatch }, cache });
  timers.start();
  lifecycle.onShutdown('detect timers', () => timers.stop());
  const retention = setInterval(() => {
    const bound = `${Date.now() - settings.logRetention}-0`;
    void Promise.all(partitions.map((p) => redis.xtrimMinId(keys.stream(p, 'fired'), bound))).catch((err: unknown) => {
      logger.debug({ err: asReboundError(err).message }, 'trigger log retention skipped');
    });
  }, 60_000);
  retention.unref();
  lifecycle.onShutdown('trigger log retention', () => clearInterval(retention));
  return { timerPartitions };
}

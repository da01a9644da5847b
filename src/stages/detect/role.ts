// The detect role: definitions kept current (polled version), the detect stage on the runtime,
// the timer task over the same partitions, and the trigger log's retention; drained in order.
import type { Runtime } from '../../core/bootstrap.js';
import { systemClock } from '../../core/clock.js';
import { asReboundError } from '../../core/errors.js';
import { DefinitionsWatcher } from '../../model/definitions-watcher.js';
import { servedPartitions, startStages } from '../runtime/run-stages.js';
import type { StageDefinition } from '../runtime/stage.js';
import { loadDetectDefinitions, type DetectDefinitions } from './definitions.js';
import { detectStage } from './detect-stage.js';
import { TimerTask } from './timers.js';

export async function startDetect(runtime: Runtime): Promise<void> {
  const { redis, keys, logger, lifecycle, config } = runtime;
  const settings = config.detect;
  const watcher = new DefinitionsWatcher<DetectDefinitions>(redis, keys, () => loadDetectDefinitions(redis, keys, { settleMs: settings.settle }), {
    pollMs: settings.definitionsPoll,
    logger,
  });
  await watcher.start();
  lifecycle.onShutdown('detect definitions', () => watcher.stop());
  const definitions = (): DetectDefinitions => watcher.current;
  await startStages(runtime, [detectStage(redis, keys, definitions, { visitorTtlMs: settings.visitorTtl, stateCacheSize: settings.stateCache }) as StageDefinition<never>]);
  const partitions = servedPartitions(runtime);
  const timers = new TimerTask({ redis, keys, partitions, definitions, clock: systemClock, logger, settings: { tickMs: settings.timerTick, batch: settings.timerBatch } });
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
}

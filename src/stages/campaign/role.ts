// The campaign role: definitions kept current (events, published template versions), the
// datamart with its LRU caches, the campaign stage on the runtime and the task for waiting jobs
// over the stage's share of the partitions; drained in order on shutdown. The role talks to Redis over a
// connection of its own without auto-pipelining (see RedisPort.duplicate): a batch sends a few
// big commands, each written at once, so Redis runs one batch's commit while this process renders
// the next instead of the two taking turns.
import { randomBytes } from 'node:crypto';
import type { Runtime } from '../../core/bootstrap.js';
import { systemClock, type Clock } from '../../core/clock.js';
import { backoffDelay } from '../../core/retry.js';
import { loadCampaignDefinitions, type CampaignDefinitions } from '../../model/campaign-definitions.js';
import { Datamart } from '../../model/datamart-cache.js';
import { DefinitionsWatcher } from '../../model/definitions-watcher.js';
import { servedPartitions, startStages } from '../runtime/run-stages.js';
import type { StageDefinition } from '../runtime/stage.js';
import { campaignStage, type CampaignDeps } from './campaign-stage.js';
import { WaitingTask } from './waiting.js';

/** How long a job waits for a late identity before looking again: 1 s doubling to 1 min. */
const identityWait = { baseMs: 1000, capMs: 60_000 };

export interface CampaignOptions {
  /** The clock of validity, quiet hours and waits (tests move it forward). */
  clock?: Clock;
}

export async function startCampaign(runtime: Runtime, options: CampaignOptions = {}): Promise<void> {
  const { keys, logger, lifecycle, config } = runtime;
  const settings = config.campaign;
  // Closed last (shutdown steps run in reverse): after the stage and the waiting jobs drained.
  const redis = await runtime.redis.duplicate(`rebound-campaign:${runtime.consumer.replace(/\s/g, '_')}`, { autoPipelining: false });
  lifecycle.onShutdown('campaign redis connection', () => redis.close());
  const watcher = new DefinitionsWatcher<CampaignDefinitions>(redis, keys, () => loadCampaignDefinitions(redis, keys, { logger }), {
    pollMs: settings.definitionsPoll,
    logger,
  });
  await watcher.start();
  lifecycle.onShutdown('campaign definitions', () => watcher.stop());
  const datamart = new Datamart(redis, keys, settings, logger);
  await datamart.start();
  lifecycle.onShutdown('campaign datamart', () => datamart.stop());
  const secret = await redis.setIfAbsent(keys.linkSecret(), randomBytes(32).toString('base64url'));
  const deps: CampaignDeps = {
    redis,
    keys,
    clock: options.clock ?? systemClock,
    definitions: () => watcher.current,
    retentionMs: settings.recordRetention,
    identity: { profiles: (ids) => datamart.profiles.getMany(ids), lookup: (field, value, hashed) => datamart.identity.lookup(field, value, hashed) },
    resources: { getMany: (name, rowKeys) => datamart.resources.getMany(name, rowKeys) },
    suppressed: (addresses) => datamart.suppressed(addresses),
    defaultTimezone: settings.defaultTimezone,
    links: { publicUrl: settings.publicUrl, secret },
    identityWaitMs: (attempt) => 500 + backoffDelay(attempt + 1, identityWait),
  };
  const [runner] = await startStages({ ...runtime, redis }, [campaignStage(deps) as StageDefinition<never>]);
  // Waiting jobs follow the stage's share of the partitions (stages.partitions: shared).
  const served = servedPartitions(runtime);
  const waiting = new WaitingTask(deps, { partitions: () => runner?.partitions ?? served, tickMs: 250, queueEvery: 4, batch: 500, logger });
  waiting.start();
  lifecycle.onShutdown('campaign waiting jobs', () => waiting.stop());
}

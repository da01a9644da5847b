// The deliver role: a deliver stage per channel on the stage runtime, the retry task over the
// same partitions and the delivery receipts, with channels given by the caller (cli/roles.ts
// builds them from the configuration; tests inject their own). Shutdown, in order: stop
// waiting on Redis for records, stop the retry task, drain the stages, close the channels.
import type { Runtime } from '../../core/bootstrap.js';
import { systemClock } from '../../core/clock.js';
import type { Channels } from '../../model/channel.js';
import { channelNames } from '../../model/message.js';
import { servedPartitions, startStages } from '../runtime/run-stages.js';
import type { StageDefinition } from '../runtime/stage.js';
import { ChannelDelivery, type DeliveryContext } from './channel-delivery.js';
import { deliverSettings } from './deliver-settings.js';
import { deliverStage } from './deliver-stage.js';
import { listenForReceipts } from './receipts.js';
import { RetryTask } from './retry-task.js';

export async function startDeliver(runtime: Runtime, channels: Channels): Promise<void> {
  const { redis, keys, logger, lifecycle, config } = runtime;
  lifecycle.onShutdown('deliver channels', async () => {
    await Promise.all(channelNames.map((name) => channels[name].close()));
  });
  const stopping = new AbortController();
  const ctx: DeliveryContext = { redis, keys, settings: deliverSettings(config), clock: systemClock, logger: logger.child({ role: 'deliver' }), signal: stopping.signal };
  const deliveries = channelNames.map((name) => new ChannelDelivery(ctx, name, channels[name]));
  for (const delivery of deliveries) listenForReceipts(delivery.channel, ctx);
  await startStages(runtime, deliveries.map((delivery) => deliverStage(delivery) as StageDefinition<never>));
  const retries = new RetryTask(ctx, deliveries, servedPartitions(runtime));
  retries.start();
  lifecycle.onShutdown('deliver retries', () => retries.stop());
  lifecycle.onShutdown('deliver records', () => stopping.abort());
  logger.info({ emailChannel: channels.email.name, smsChannel: channels.sms.name }, 'deliver running');
}

// The deliver stage of one channel: consumer group `deliver` over the partitions' outbox stream
// of that channel (`out:email`, `out:sms`). Each batch is claimed, handed over and recorded by
// ChannelDelivery, which acknowledges the entries itself in its record call; an entry that is
// not a message fails alone (dead-lettered at once).
import { asReboundError } from '../../core/errors.js';
import { outboxStream, type OutboxMessage } from '../../model/message.js';
import { acknowledged, fail, type ItemResult, type StageDefinition } from '../runtime/stage.js';
import type { ChannelDelivery, OutboxEntry } from './channel-delivery.js';
import { deliverGroup } from './deliver-settings.js';
import { checkOutboxMessage } from './outbox-message.js';

export function deliverStage(delivery: ChannelDelivery): StageDefinition<OutboxMessage> {
  return {
    name: deliverGroup,
    input: outboxStream(delivery.channelName),
    async process(items, partition) {
      const results: ItemResult[] = [];
      const entries: OutboxEntry[] = [];
      for (const item of items) {
        try {
          entries.push({ entryId: item.id, message: checkOutboxMessage(item.value, delivery.channelName), data: item.data });
          results.push(acknowledged());
        } catch (err) {
          results.push(fail(asReboundError(err, 'OUTBOX_MESSAGE_INVALID')));
        }
      }
      await delivery.deliverEntries(partition, entries);
      return results;
    },
  };
}

// SMS delivery receipts (SPEC §7): a receipt names the SMSC's message id; the id was mapped to
// `<partition>|<message id>` right after the submit (channel-delivery.ts), and the receipt's
// state is written on that message's record (field `receipt`, with `receiptAt`). A receipt can
// overtake the mapping (the SMSC answers within milliseconds), so a miss is looked up again a
// few times before it is counted as unknown.
import { sleep } from '../../core/clock.js';
import { asReboundError } from '../../core/errors.js';
import type { Channel, DeliveryReceipt } from '../../model/channel.js';
import type { DeliveryContext } from './channel-delivery.js';
import { receipts } from './deliver-metrics.js';

const LOOKUPS = 5;
const LOOKUP_PAUSE_MS = 200;
const knownStates = new Set(['DELIVRD', 'UNDELIV', 'EXPIRED', 'REJECTD', 'DELETED', 'ACCEPTD', 'UNKNOWN', 'ENROUTE']);

async function recordReceipt(ctx: DeliveryContext, receipt: DeliveryReceipt): Promise<void> {
  const { redis, keys, clock } = ctx;
  const state = knownStates.has(receipt.state) ? receipt.state : 'OTHER';
  for (let lookup = 1; lookup <= LOOKUPS && !ctx.signal.aborted; lookup++) {
    const target = await redis.get(keys.smscMessage(receipt.remoteId));
    if (target !== null) {
      const bar = target.indexOf('|');
      const record = keys.message(Number(target.slice(0, bar)), target.slice(bar + 1));
      const written = Number(await redis.script('reboundDeliverReceipt', [record], [receipt.state, clock.now(), receipt.error ?? ''])) === 1;
      receipts.labels(state, written ? 'recorded' : 'noRecord').inc();
      return;
    }
    await sleep(LOOKUP_PAUSE_MS * lookup, ctx.signal);
  }
  receipts.labels(state, 'unknown').inc();
}

export function listenForReceipts(channel: Channel, ctx: DeliveryContext): void {
  channel.onReceipt?.((receipt) => {
    recordReceipt(ctx, receipt).catch((err: unknown) => {
      ctx.logger.warn({ err: asReboundError(err).message }, 'cannot record a delivery receipt');
    });
  });
}

// SMS over SMPP 3.4 (SPEC §7): each message as one submit_sm per part (GSM-7 or UCS-2, long
// texts concatenated with a UDH; see sms-parts.ts), with a delivery receipt requested; the
// SMSC's message ids come back as the result's remoteIds. Throttling, a full queue and system
// errors of the SMSC are transient; any other refusal (bad number, …) is permanent.
// Receipts (deliver_sm) are parsed and passed to the listener the deliver stage registers.
import type { Pdu } from 'smpp';
import type { BackoffOptions } from '../core/retry.js';
import type { Logger } from '../core/log.js';
import { permanentFailure, transientFailure, type Channel, type DeliveryReceipt, type SendResult } from '../model/channel.js';
import type { OutboxMessage } from '../model/message.js';
import { SmppConnection } from './smpp-connection.js';
import { parseReceipt, type ReceiptPdu } from './smpp-receipt.js';
import { concatReference, smsParts } from './sms-parts.js';

export interface SmppSettings {
  url: string;
  sourceAddr: string;
  enquireLinkMs: number;
  reconnect: BackoffOptions;
  timeoutMs: number;
  window: number;
}

/** Command statuses worth retrying: system error, queue full, throttled, temporary app error, not bound. */
const transientStatuses = new Map<number, string>([
  [0x04, 'ESME_RINVBNDSTS'],
  [0x08, 'ESME_RSYSERR'],
  [0x14, 'ESME_RMSGQFUL'],
  [0x58, 'ESME_RTHROTTLED'],
  [0x64, 'ESME_RX_T_APPN'],
]);

/** source_addr TON/NPI: alphanumeric sender (5/0), else an international number (1/1). */
function addressing(address: string): { addr: string; ton: number; npi: number } {
  if (/[A-Za-z]/.test(address)) return { addr: address, ton: 5, npi: 0 };
  return { addr: address.replace(/^\+/, ''), ton: 1, npi: 1 };
}

export class SmppChannel implements Channel {
  readonly name = 'smpp';
  readonly #connection: SmppConnection;
  readonly #sourceAddr: string;
  readonly #listeners: Array<(receipt: DeliveryReceipt) => void> = [];
  readonly #logger: Logger;

  constructor(settings: SmppSettings, logger: Logger) {
    this.#sourceAddr = settings.sourceAddr;
    this.#logger = logger;
    this.#connection = new SmppConnection(settings, logger, (pdu) => this.#onDeliver(pdu));
    this.#connection.start();
  }

  /** Successful binds so far: 2 or more after a reconnect. */
  get binds(): number {
    return this.#connection.binds;
  }

  onReceipt(listener: (receipt: DeliveryReceipt) => void): void {
    this.#listeners.push(listener);
  }

  #onDeliver(pdu: Pdu): void {
    const receipt = parseReceipt(pdu as ReceiptPdu);
    if (receipt === undefined) {
      this.#logger.debug('SMPP deliver_sm that is not a delivery receipt ignored');
      return;
    }
    for (const listener of this.#listeners) listener(receipt);
  }

  async send(message: OutboxMessage): Promise<SendResult> {
    const text = message.text ?? '';
    const to = message.to.replace(/^\+/, '');
    if (text === '' || !/^\d{3,20}$/.test(to)) return permanentFailure(text === '' ? 'empty SMS text' : 'the recipient is not a phone number');
    let encoded;
    try {
      encoded = smsParts(text, concatReference(message.id));
    } catch (err) {
      return permanentFailure((err as Error).message);
    }
    const source = addressing(message.from ?? this.#sourceAddr);
    const ids: string[] = [];
    for (const part of encoded.parts) {
      const outcome = await this.#connection.submit({
        source_addr: source.addr,
        source_addr_ton: source.ton,
        source_addr_npi: source.npi,
        destination_addr: to,
        dest_addr_ton: 1,
        dest_addr_npi: 1,
        registered_delivery: 1,
        esm_class: encoded.esmClass,
        data_coding: encoded.dataCoding,
        short_message: part,
      });
      const done = ids.length > 0 ? ` (after ${ids.length} of ${encoded.parts.length} parts)` : '';
      if ('error' in outcome) return transientFailure(outcome.error + done);
      const status = outcome.pdu.command_status;
      if (status !== 0) {
        const name = transientStatuses.get(status);
        const reply = `submit_sm_resp status 0x${status.toString(16).padStart(8, '0')}${name ? ` ${name}` : ''}${done}`;
        return name === undefined ? permanentFailure(reply) : transientFailure(reply);
      }
      ids.push(String(outcome.pdu.message_id ?? ''));
    }
    return { ok: true, remoteId: ids[0] as string, remoteIds: ids, reply: `submit_sm_resp ${ids.join(',')}` };
  }

  close(): Promise<void> {
    return this.#connection.close();
  }
}

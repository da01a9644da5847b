// Delivery receipts of SMPP 3.4 (deliver_sm with the receipt bit of esm_class): the SMSC's
// message id and final state, from the receipted_message_id / message_state TLVs when present,
// else from the conventional text "id:… sub:… dlvrd:… submit date:… done date:… stat:… err:…".
import type { DeliveryReceipt } from '../model/channel.js';

/** esm_class message type bits (2–5) of an SMSC delivery receipt. */
const RECEIPT_TYPE_MASK = 0x3c;
const RECEIPT_TYPE = 0x04;

/** message_state TLV values (SMPP 3.4 §5.2.28) as the receipt text writes them. */
const stateNames: Record<number, string> = { 1: 'ENROUTE', 2: 'DELIVRD', 3: 'EXPIRED', 4: 'DELETED', 5: 'UNDELIV', 6: 'ACCEPTD', 7: 'UNKNOWN', 8: 'REJECTD' };

export interface ReceiptPdu {
  esm_class?: unknown;
  short_message?: unknown;
  receipted_message_id?: unknown;
  message_state?: unknown;
  network_error_code?: unknown;
}

export const isReceipt = (pdu: ReceiptPdu): boolean => (Number(pdu.esm_class ?? 0) & RECEIPT_TYPE_MASK) === RECEIPT_TYPE;

function receiptText(shortMessage: unknown): string {
  if (typeof shortMessage === 'string') return shortMessage;
  if (Buffer.isBuffer(shortMessage)) return shortMessage.toString('latin1');
  const message = (shortMessage as { message?: unknown } | undefined)?.message;
  if (typeof message === 'string') return message;
  return Buffer.isBuffer(message) ? message.toString('latin1') : '';
}

/** The receipt a deliver_sm carries, or undefined when it is not a receipt or has no id. */
export function parseReceipt(pdu: ReceiptPdu): DeliveryReceipt | undefined {
  if (!isReceipt(pdu)) return undefined;
  const text = receiptText(pdu.short_message);
  const id = typeof pdu.receipted_message_id === 'string' && pdu.receipted_message_id !== '' ? pdu.receipted_message_id : /\bid:(\S+)/i.exec(text)?.[1];
  if (id === undefined) return undefined;
  const state = typeof pdu.message_state === 'number' ? stateNames[pdu.message_state] : /\bstat:(\w+)/i.exec(text)?.[1]?.toUpperCase();
  const error = /\berr:(\w+)/i.exec(text)?.[1];
  return { remoteId: id, state: state ?? 'UNKNOWN', ...(error === undefined ? {} : { error }) };
}

// Trigger messages: the compact record lua/detect-fire-3.lua appends to the trigger log, and the
// one function that renders it in Adobe's pipeline / I/O Events shape (SPEC §5.1), which is
// what every external interface shows.
import { createHash } from 'node:crypto';
import { decode } from '../core/codec.js';

export interface FiredRecord {
  triggerId: string;
  triggerName: string;
  version: number;
  source: string;
  visitorId: string;
  firedAt: number;
  firstHitTs: number;
  lastHitTs: number;
  /** Per include container that was satisfied, the earliest hit that satisfied it. */
  path: Array<{ container: number; ts: number }>;
  metadata: Record<string, Array<string | number | boolean>>;
  cart: Array<{ sku: string; quantity: number; price?: number; name?: string; category?: string }>;
  aliases: Record<string, string>;
  type: string;
}

export interface TriggerHeader {
  triggerId: string;
  triggerName: string;
  version: number;
  source: string;
}

type RawCart = Record<string, { q: number; p?: number; n?: string; c?: string }>;
const parseJson = <T>(text: string, empty: T): T => (text === '' ? empty : (JSON.parse(text) as T));

export function decodeFiredRecord(data: Buffer): FiredRecord {
  const [header, visitorId, firedAt, firstHitTs, lastHitTs, path, meta, cart, aliases, type] = decode<
    [string, string, number, number, number, Array<[number, number]> | Record<string, never>, string, string, string, string]
  >(data);
  const head = JSON.parse(header) as TriggerHeader;
  return {
    ...head,
    visitorId,
    firedAt,
    firstHitTs,
    lastHitTs,
    // cmsgpack packs an empty Lua table as a map
    path: Array.isArray(path) ? path.map(([container, ts]) => ({ container, ts })) : [],
    metadata: parseJson(meta, {}),
    cart: Object.entries(parseJson<RawCart>(cart, {})).map(([sku, item]) => ({
      sku,
      quantity: item.q,
      ...(item.p === undefined ? {} : { price: item.p }),
      ...(item.n === undefined ? {} : { name: item.n }),
      ...(item.c === undefined ? {} : { category: item.c }),
    })),
    aliases: parseJson(aliases, {}),
    type,
  };
}

/** A UUID derived from a name, so the same log entry always shows the same ids. */
function nameUuid(name: string): string {
  const hex = createHash('sha1').update(name).digest('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-5${hex.slice(13, 16)}-${((parseInt(hex.slice(16, 18), 16) & 0x3f) | 0x80).toString(16)}${hex.slice(18, 20)}-${hex.slice(20, 32)}`;
}

const finalTransition: Record<string, string> = {
  abandonment: 'inactive_timeout',
  action: 'action',
  sessionStart: 'session_start',
  sessionEnd: 'session_end',
};

export interface LogPosition {
  partition: number;
  /** The trigger log entry id: the cursor of the journal. */
  offset: string;
  imsOrg: string;
}

/** The Adobe pipeline message of SPEC §5.1 for one trigger log entry. */
export function toAdobeMessage(record: FiredRecord, position: LogPosition): Record<string, unknown> {
  const createTime = Number(position.offset.split('-', 1)[0]);
  const dimensions: Record<string, unknown> = {};
  for (const [name, data] of Object.entries(record.metadata)) {
    dimensions[name] = { type: data.every((v) => typeof v === 'number') ? 'int' : 'string', data, name, source: 'session summary' };
  }
  const trigger = {
    triggerId: record.triggerId,
    triggerName: record.triggerName,
    triggerTimestamp: record.firedAt,
    mcId: record.visitorId,
    aliases: record.aliases,
    enrichments: { analyticsHitSummary: { dimensions, products: { items: record.cart } } },
    triggerPath: [
      ...record.path.map(({ container, ts }) => ({ timestamp: ts, stateId: `include:${container}`, transition: 'hit' })),
      { timestamp: record.firedAt, stateId: 'notify', transition: finalTransition[record.type] ?? record.type },
    ],
  };
  return {
    event_id: nameUuid(`event:${position.partition}:${position.offset}`),
    event: {
      envelopeType: 'DATA',
      topic: 'triggers',
      partition: position.partition,
      offset: position.offset,
      createTime,
      'com.adobe.mcloud.pipeline.pipelineMessage': {
        header: {
          messageType: 'TRIGGER',
          source: 'triggers',
          sentTime: createTime,
          imsOrg: position.imsOrg,
          messageId: nameUuid(`message:${position.partition}:${position.offset}`),
          properties: [
            { name: 'sourceFirstTimestamp', value: String(Math.floor(record.firstHitTs / 1000)) },
            { name: 'sourceLastTimestamp', value: String(Math.floor(record.lastHitTs / 1000)) },
            { name: 'triggerFiredTimestamp', value: String(record.firedAt) },
          ],
        },
        'com.adobe.mcloud.protocol.trigger': trigger,
      },
    },
  };
}

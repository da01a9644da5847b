// Trigger messages: the compact record lua/detect-fire.lua appends to the trigger log, and the
// one function that renders it in Adobe's pipeline / I/O Events shape (SPEC §5.1), which is
// what every external interface shows; and the way back: Adobe's messages validated and turned
// into the same record (POST /v1/triggers feeds real Adobe triggers to the campaign side).
// (A longer file: both directions of one format stay together.)
import { hash } from 'node:crypto';
import { z } from 'zod';
import { decode, encodePlain } from '../core/codec.js';
import { ReboundError } from '../core/errors.js';
import { hitLimits, isSafeKey } from './hit.js';
import { jsonObjectEntries } from './json-entries.js';

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
  /**
   * Where the visit's state lives (detect's visit number and the trigger's slot): the campaign
   * side re-reads it to see whether the visit converted after firing. Absent for Adobe's messages.
   */
  visit?: { number: number; slot: number };
}

export interface TriggerHeader {
  triggerId: string;
  triggerName: string;
  version: number;
  source: string;
}

type RawCart = Record<string, { q: number; p?: number; n?: string; c?: string }>;
const parseJson = <T>(text: string, empty: T): T => (text === '' ? empty : (JSON.parse(text) as T));

/** Parsed trigger headers by their JSON text: one trigger version's records all carry the same one. */
const headers = new Map<string, TriggerHeader>();
const maxHeaders = 1024;

function headerOf(text: string): TriggerHeader {
  let head = headers.get(text);
  if (head === undefined) {
    head = JSON.parse(text) as TriggerHeader;
    if (headers.size >= maxHeaders) headers.clear();
    headers.set(text, head);
  }
  return head;
}

/** The cart as a list: the visit keeps the signed sum of adds and removes; the cart is what is left above zero. */
function storedCart(text: string): FiredRecord['cart'] {
  const cart: FiredRecord['cart'] = [];
  if (text === '') return cart;
  // Entries, not an object keyed by sku: see json-entries.ts.
  for (const [sku, value] of jsonObjectEntries(text)) {
    const item = value as RawCart[string];
    if (!(item.q > 0)) continue;
    const line: FiredRecord['cart'][number] = { sku, quantity: item.q };
    if (item.p !== undefined) line.price = item.p;
    if (item.n !== undefined) line.name = item.n;
    if (item.c !== undefined) line.category = item.c;
    cart.push(line);
  }
  return cart;
}

type RawRecord = [string, string, number, number, number, Array<[number, number]> | Record<string, never>, string, string, string, string, number, number?, number?];

export function decodeFiredRecord(data: Buffer): FiredRecord {
  const raw = decode<RawRecord>(data);
  const head = headerOf(raw[0]);
  const rawPath = raw[5];
  const path: FiredRecord['path'] = [];
  // cmsgpack packs an empty Lua table as a map
  if (Array.isArray(rawPath)) for (const [container, ts] of rawPath) path.push({ container, ts });
  const record: FiredRecord = {
    triggerId: head.triggerId,
    triggerName: head.triggerName,
    version: head.version,
    source: head.source,
    visitorId: raw[1],
    firedAt: raw[2],
    firstHitTs: raw[3],
    lastHitTs: raw[4],
    path,
    metadata: parseJson(raw[6], {}),
    cart: storedCart(raw[7]),
    aliases: parseJson(raw[8], {}),
    type: raw[9],
  };
  const visitNumber = raw[11];
  const slot = raw[12];
  if (visitNumber !== undefined && slot !== undefined) record.visit = { number: visitNumber, slot };
  return record;
}

/** A UUID derived from a name, so the same log entry always shows the same ids. */
export function nameUuid(name: string): string {
  const hex = hash('sha1', name, 'hex');
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

/**
 * The trigger-log entry of a record, positionally as lua/detect-fire.lua writes it (plain
 * MessagePack, empty maps as ''), so decodeFiredRecord reads both alike. The cart is keyed by
 * sku: a record with one sku twice keeps the last. satisfiedTs is the latest include-container
 * hit of the path (lastHitTs without a path).
 */
export function encodeFiredRecord(record: FiredRecord): Buffer {
  const { triggerId, triggerName, version, source } = record;
  const cart = Object.create(null) as RawCart;
  for (const { sku, quantity, price, name, category } of record.cart) {
    const item: RawCart[string] = { q: quantity };
    if (price !== undefined) item.p = price;
    if (name !== undefined) item.n = name;
    if (category !== undefined) item.c = category;
    cart[sku] = item;
  }
  const satisfiedTs = record.path.length === 0 ? record.lastHitTs : Math.max(...record.path.map((step) => step.ts));
  const header: TriggerHeader = { triggerId, triggerName, version, source };
  return encodePlain([
    JSON.stringify(header), record.visitorId, record.firedAt, record.firstHitTs, record.lastHitTs,
    record.path.map(({ container, ts }) => [container, ts]),
    jsonOrEmpty(record.metadata), jsonOrEmpty(cart), jsonOrEmpty(record.aliases), record.type, satisfiedTs,
    ...(record.visit === undefined ? [] : [record.visit.number, record.visit.slot]),
  ]);
}

const jsonOrEmpty = (value: object): string => (Object.keys(value).length === 0 ? '' : JSON.stringify(value));

// --- Adobe's messages in (SPEC §5.1; adobe-reference §2.1, §2.8) --------------------------------

const pipelineKey = 'com.adobe.mcloud.pipeline.pipelineMessage';
const protocolKey = 'com.adobe.mcloud.protocol.trigger';
/** Header properties holding epoch timestamps, as digit strings in Adobe's samples. */
const timestampProperties = new Set(['sourceFirstTimestamp', 'sourceLastTimestamp', 'triggerFiredTimestamp']);

const received = (value: unknown): string => (value === null ? 'null' : Array.isArray(value) ? 'array' : typeof value);
const oneOf = (what: string) => ({
  errorMap: (issue: z.ZodIssueOptionalMessage, ctx: z.ErrorMapCtx) => ({ message: issue.code === 'invalid_union' ? `Expected ${what}, received ${received(ctx.data)}` : ctx.defaultError }),
});
const epochMs = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
const safeKey = z.string().refine(isSafeKey, 'prototype keys are refused');
const id = z.string().min(1).max(hitLimits.idBytes);

const dimensionSchema = z.object({
  type: z.string().optional(),
  data: z.array(z.union([z.string(), z.number(), z.boolean(), z.null()], oneOf('a string, number, boolean or null'))),
  name: z.string().optional(),
  source: z.string().optional(),
});

const productSchema = z.object({
  sku: z.union([z.string().min(1), z.number()], oneOf('a string or a number')).transform(String).refine(isSafeKey, 'prototype keys are refused'),
  quantity: z.number().min(0).default(1),
  price: z.number().optional(),
  name: z.string().optional(),
  category: z.string().optional(),
});

const headerSchema = z
  .object({ properties: z.array(z.object({ name: z.string(), value: z.union([z.string(), z.number()], oneOf('a string or a number')) })).optional() })
  .superRefine((header, ctx) =>
    header.properties?.forEach(({ name, value }, i) => {
      if (timestampProperties.has(name) && !/^\d{1,13}$/.test(String(value))) {
        ctx.addIssue({ code: 'custom', message: `${name} must be an epoch timestamp (digits)`, path: ['properties', i, 'value'] });
      }
    }),
  );

const triggerSchema = z.object({
  triggerId: id,
  triggerName: id.optional(),
  triggerTimestamp: epochMs,
  mcId: id,
  aliases: z.record(safeKey, z.union([z.string(), z.number()], oneOf('a string or a number')).transform(String)).optional(),
  enrichments: z
    .object({
      analyticsHitSummary: z
        .object({ dimensions: z.record(safeKey, dimensionSchema).optional(), products: z.object({ items: z.array(productSchema).optional() }).optional() })
        .optional(),
    })
    .optional(),
  triggerPath: z.array(z.object({ timestamp: epochMs, stateId: z.string(), transition: z.string().nullable().optional() })).optional(),
});

/**
 * One Adobe trigger message as Adobe's samples deliver it: `{event_id?, event: {envelope…,
 * "com.adobe.mcloud.pipeline.pipelineMessage": {header?, "com.adobe.mcloud.protocol.trigger":
 * {…}}}}`. Fields Rebound does not use are not checked (and not kept).
 */
export const adobeMessageSchema = z.object({
  event: z.object({ [pipelineKey]: z.object({ header: headerSchema.optional(), [protocolKey]: triggerSchema }) }),
});

/** A validated Adobe trigger message. */
export type AdobeTriggerMessage = z.output<typeof adobeMessageSchema>;

const identifier = /^[A-Za-z_$][\w$]*$/;

/** `events[2].event["com.adobe…pipelineMessage"].header`: keys with dots stay readable. */
export function formatJsonPath(path: ReadonlyArray<string | number>): string {
  let text = '';
  for (const part of path) {
    if (typeof part === 'number') text += `[${part}]`;
    else if (identifier.test(part)) text += text === '' ? part : `.${part}`;
    else text += `[${JSON.stringify(part)}]`;
  }
  return text === '' ? '(top level)' : text;
}

const maxListedIssues = 10;

/**
 * Validates message number `index` of a request, found at `at` in its body. Throws
 * TRIGGER_MESSAGE_INVALID listing each problem with its path; `path` is the first one.
 */
export function parseAdobeMessage(raw: unknown, index = 0, at: ReadonlyArray<string | number> = []): AdobeTriggerMessage {
  const result = adobeMessageSchema.safeParse(raw);
  if (result.success) return result.data;
  const issues = result.error.issues;
  const lines = issues.slice(0, maxListedIssues).map((issue) => `  ${formatJsonPath([...at, ...issue.path])}: ${issue.message}`);
  if (issues.length > maxListedIssues) lines.push(`  … and ${issues.length - maxListedIssues} more`);
  const bare = typeof raw === 'object' && raw !== null && (pipelineKey in raw || protocolKey in raw || 'triggerId' in raw);
  const hint = bare ? ` (send it whole, as Adobe delivers it: {"event": {"${pipelineKey}": {"header": …, "${protocolKey}": …}}})` : '';
  throw new ReboundError('TRIGGER_MESSAGE_INVALID', `invalid trigger message ${index}${hint}:\n${lines.join('\n')}`, {
    index,
    path: formatJsonPath([...at, ...(issues[0]?.path ?? [])]),
  });
}

/** Trigger type by the final transition toAdobeMessage writes (Adobe's own: "inactive_timeout -> 5"). */
const typeByTransition = new Map(Object.entries(finalTransition).map(([type, transition]) => [transition, type]));
const includeState = /^include:(\d+)$/;

/**
 * The trigger-log record of an Adobe message, attributed to `source` (the sender's). Version 0
 * marks a trigger defined outside Rebound. Without header timestamps the hits are dated at
 * triggerTimestamp. Only Rebound's own `include:N` path steps map back to containers.
 */
export function fromAdobeMessage(message: AdobeTriggerMessage, source: string): FiredRecord {
  const pipeline = message.event[pipelineKey];
  const trigger = pipeline[protocolKey];
  const seconds = new Map((pipeline.header?.properties ?? []).map(({ name, value }) => [name, Number(value) * 1000]));
  const first = seconds.get('sourceFirstTimestamp') ?? seconds.get('sourceLastTimestamp') ?? trigger.triggerTimestamp;
  const steps = trigger.triggerPath ?? [];
  const summary = trigger.enrichments?.analyticsHitSummary;
  const finalStep = (steps[steps.length - 1]?.transition ?? '').split('->', 1)[0]?.trim() ?? '';
  return {
    triggerId: trigger.triggerId,
    triggerName: trigger.triggerName ?? trigger.triggerId,
    version: 0,
    source,
    visitorId: trigger.mcId,
    firedAt: trigger.triggerTimestamp,
    firstHitTs: first,
    lastHitTs: seconds.get('sourceLastTimestamp') ?? Math.max(first, trigger.triggerTimestamp),
    path: steps.flatMap(({ stateId, timestamp }) => {
      const container = includeState.exec(stateId)?.[1];
      return container === undefined ? [] : [{ container: Number(container), ts: timestamp }];
    }),
    metadata: Object.fromEntries(Object.entries(summary?.dimensions ?? {}).map(([name, { data }]) => [name, data.filter((v) => v !== null)])),
    cart: cartOf(summary?.products?.items ?? []),
    aliases: { ...trigger.aliases },
    type: typeByTransition.get(finalStep) ?? 'abandonment',
  };
}

/** Products as the cart: one line per sku (quantities of repeated skus add up). */
function cartOf(items: ReadonlyArray<z.output<typeof productSchema>>): FiredRecord['cart'] {
  const bySku = new Map<string, FiredRecord['cart'][number]>();
  for (const { sku, quantity, price, name, category } of items) {
    const line: FiredRecord['cart'][number] = { ...bySku.get(sku), sku, quantity: (bySku.get(sku)?.quantity ?? 0) + quantity };
    if (price !== undefined) line.price = price;
    if (name !== undefined) line.name = name;
    if (category !== undefined) line.category = category;
    bySku.set(sku, line);
  }
  return [...bySku.values()];
}

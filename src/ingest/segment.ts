// Segment HTTP Tracking API messages → canonical hits (SPEC §2.1): identities, page fields,
// e-commerce events and products, properties/context as dims, clock-skew correction.
import { randomUUID } from 'node:crypto';
import { ReboundError } from '../core/errors.js';
import { arrayElementBytes, elementsWithin } from './json-spans.js';
import { hitLimits, hitTypes, isSafeKey, truncateBytes, type DimValue, type Hit, type HitType, type Product } from '../model/hit.js';
import { cleanValue, dimChild, dimName, flattenInto, invalid, isRecord, optionalText, readProduct, requiredId, type HitContext } from '../model/hit-parse.js';

/** Segment e-commerce spec v2 (and the v1 names) → Analytics events. */
const ecommerceEvents: Readonly<Record<string, string>> = {
  'Product Viewed': 'prodView',
  'Viewed Product': 'prodView',
  'Product Added': 'scAdd',
  'Added Product': 'scAdd',
  'Product Removed': 'scRemove',
  'Removed Product': 'scRemove',
  'Cart Viewed': 'scView',
  'Viewed Cart': 'scView',
  'Checkout Started': 'scCheckout',
  'Started Order': 'scCheckout',
  'Order Completed': 'purchase',
  'Completed Order': 'purchase',
  'Products Searched': 'search',
};

export const segmentMessageBytes = 32 * 1024;
export const segmentBatchBytes = 500 * 1024;

const typeSet = new Set<string>(hitTypes);

export interface SegmentContext extends HitContext {
  /** The batch's `sentAt` when the message has none. */
  sentAt?: unknown;
  /** The batch's `context`, used when the message has none. */
  context?: unknown;
  /** `sentAt` once parsed (null: the batch has none); set by the mapping. */
  sentAtMs?: number | null;
}

const digit = (text: string, at: number): number => text.charCodeAt(at) - 48;
const twoDigits = (text: string, at: number): number => digit(text, at) * 10 + digit(text, at + 1);
const isDigits = (text: string, from: number, to: number): boolean => {
  for (let i = from; i < to; i++) {
    const d = digit(text, i);
    if (d < 0 || d > 9) return false;
  }
  return true;
};

/**
 * Date.parse, with a fast path for what Segment libraries send (`2025-01-15T12:00:00.000Z`, UTC,
 * milliseconds): Date.parse costs about a microsecond per message. Anything else, or a date the
 * fast path would have to check against the calendar (day > 28, hour 24, year < 1000), goes to
 * Date.parse.
 */
export function parseIsoTime(text: string): number {
  if (text.length !== 24 || text.charCodeAt(23) !== 0x5a || text[4] !== '-' || text[7] !== '-' || text[10] !== 'T' || text[13] !== ':' || text[16] !== ':' || text[19] !== '.') return Date.parse(text);
  if (!isDigits(text, 0, 4) || !isDigits(text, 5, 7) || !isDigits(text, 8, 10) || !isDigits(text, 11, 13) || !isDigits(text, 14, 16) || !isDigits(text, 17, 19) || !isDigits(text, 20, 23)) return Date.parse(text);
  const month = twoDigits(text, 5);
  const day = twoDigits(text, 8);
  const hour = twoDigits(text, 11);
  const minute = twoDigits(text, 14);
  const second = twoDigits(text, 17);
  if (month < 1 || month > 12 || day < 1 || day > 28 || hour > 23 || minute > 59 || second > 59) return Date.parse(text);
  const year = digit(text, 0) * 1000 + digit(text, 1) * 100 + twoDigits(text, 2);
  if (year < 1000) return Date.parse(text); // Date.UTC reads years 0 … 99 as 1900 … 1999
  return daysFromCivil(year, month, day) * 86_400_000 + hour * 3_600_000 + minute * 60_000 + second * 1000 + digit(text, 20) * 100 + twoDigits(text, 21);
}

/** Days since 1970-01-01 of a proleptic Gregorian date, year ≥ 0 (H. Hinnant's algorithm; cheaper than Date.UTC). */
function daysFromCivil(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yearOfEra = y - era * 400;
  const dayOfYear = Math.floor((153 * (month > 2 ? month - 3 : month + 9) + 2) / 5) + day - 1;
  const dayOfEra = yearOfEra * 365 + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100) + dayOfYear;
  return era * 146_097 + dayOfEra - 719_468;
}

function parseTime(value: unknown, field: string, index: number): number | undefined {
  if (value === undefined || value === null) return undefined;
  const ms = typeof value === 'number' ? value : typeof value === 'string' ? parseIsoTime(value) : Number.NaN;
  if (!Number.isFinite(ms)) throw invalid(`${field} must be an ISO-8601 date`, index);
  return ms;
}

function sentAtOf(message: Record<string, unknown>, context: SegmentContext, index: number): number | undefined {
  if (message.sentAt !== undefined && message.sentAt !== null) return parseTime(message.sentAt, 'sentAt', index);
  // The batch's `sentAt`, parsed once per request rather than once per message.
  if (context.sentAtMs === undefined) context.sentAtMs = parseTime(context.sentAt, 'sentAt', index) ?? null;
  return context.sentAtMs ?? undefined;
}

/** Segment's skew correction: receivedAt − (sentAt − timestamp); no timestamp → receivedAt. */
function eventTime(message: Record<string, unknown>, context: SegmentContext, index: number): number {
  const timestamp = parseTime(message.timestamp ?? message.originalTimestamp, 'timestamp', index);
  if (timestamp === undefined) return context.receivedAt;
  const sentAt = sentAtOf(message, context, index);
  return sentAt === undefined ? timestamp : context.receivedAt - (sentAt - timestamp);
}

function messageType(message: Record<string, unknown>, routeType: HitType | undefined, index: number): HitType {
  const type = routeType ?? message.type;
  if (typeof type !== 'string' || !typeSet.has(type)) throw invalid(`type must be one of ${hitTypes.join(', ')}`, index);
  return type as HitType;
}

function identities(message: Record<string, unknown>, type: HitType, index: number): { visitorId: string; aliases: Record<string, string> | undefined } {
  const aliases: Record<string, string> = {};
  const userId = message.userId ?? undefined;
  const anonymousId = message.anonymousId ?? undefined;
  if (userId === undefined && anonymousId === undefined) throw invalid('userId or anonymousId is required', index);
  if (userId !== undefined) aliases.userId = requiredId(userId, 'userId', index);
  if (type === 'alias' && message.previousId !== undefined && message.previousId !== null) aliases.previousId = requiredId(message.previousId, 'previousId', index);
  const traits = isRecord(message.traits) ? message.traits : isRecord(message.context) && isRecord(message.context.traits) ? message.context.traits : undefined;
  if (traits && typeof traits.email === 'string' && traits.email !== '') aliases.email = truncateBytes(traits.email, hitLimits.idBytes);
  const visitorId = anonymousId !== undefined ? requiredId(anonymousId, 'anonymousId', index) : (aliases.previousId ?? (aliases.userId as string));
  return { visitorId, aliases: userId !== undefined || aliases.previousId !== undefined || aliases.email !== undefined ? aliases : undefined };
}

function products(properties: Record<string, unknown>, index: number): Product[] | undefined {
  if (Array.isArray(properties.products)) {
    if (properties.products.length > hitLimits.maxProducts) throw invalid(`more than ${hitLimits.maxProducts} products`, index);
    return properties.products.map((item, i) => readProduct(item, index, `properties.products.${i}`));
  }
  if (properties.product_id !== undefined || properties.sku !== undefined) return [readProduct(properties, index, 'properties', properties.sku ?? properties.product_id)];
  return undefined;
}

function pageFields(hit: Hit, message: Record<string, unknown>, properties: Record<string, unknown> | undefined, context: unknown, index: number): void {
  const page = isRecord(context) && isRecord(context.page) ? context.page : undefined;
  const fromProps = hit.type === 'page' && properties ? properties : undefined;
  const name = optionalText(message.name, 'name', index) ?? optionalText(page?.title ?? fromProps?.title, 'context.page.title', index);
  if (name !== undefined) hit.pageName = name;
  const url = optionalText(page?.url ?? fromProps?.url, 'context.page.url', index);
  if (url !== undefined) hit.pageURL = url;
  const referrer = optionalText(page?.referrer ?? fromProps?.referrer, 'context.page.referrer', index);
  if (referrer !== undefined) hit.referrer = referrer;
}

function trackFields(hit: Hit, message: Record<string, unknown>, properties: Record<string, unknown> | undefined, index: number): void {
  const event = message.event;
  if (typeof event !== 'string' || event === '') throw invalid('track needs an event name', index);
  const mapped = ecommerceEvents[event] ?? truncateBytes(event, 200);
  hit.events.push(mapped);
  if (!properties) return;
  const list = products(properties, index);
  if (list) hit.products = list;
  if (mapped === 'search') {
    const query = optionalText(properties.query, 'properties.query', index);
    if (query !== undefined) hit.searchTerm = query;
  }
}

const propertiesName = dimName('properties');
const contextName = dimName('context');
const purchaseIdName = dimName('purchaseID');
const groupIdName = dimName('groupId');

function dimensions(properties: Record<string, unknown> | undefined, context: unknown, message: Record<string, unknown>, index: number): Record<string, DimValue> | undefined {
  const dims: Record<string, DimValue> = {};
  if (properties) {
    for (const key in properties) {
      if (key !== 'products' && isSafeKey(key)) flattenInto(dims, dimChild(propertiesName, key), properties[key], index, 1);
    }
    if (properties.order_id !== undefined) flattenInto(dims, purchaseIdName, properties.order_id, index);
  }
  if (isRecord(context)) {
    for (const key in context) if (key !== 'traits' && isSafeKey(key)) flattenInto(dims, dimChild(contextName, key), context[key], index, 1);
  }
  if (message.groupId !== undefined) flattenInto(dims, groupIdName, message.groupId, index);
  for (const key in dims) return dims;
  return undefined;
}

/** One Segment message → one hit. `routeType` is the endpoint's type (undefined for batch items). */
export function mapSegmentMessage(message: unknown, routeType: HitType | undefined, context: SegmentContext, index: number): Hit {
  if (!isRecord(message)) throw invalid('a message must be an object', index);
  const type = messageType(message, routeType, index);
  const { visitorId, aliases } = identities(message, type, index);
  const id = message.messageId === undefined || message.messageId === null ? randomUUID() : requiredId(message.messageId, 'messageId', index);
  const hit: Hit = { id, source: context.source, visitorId, ts: eventTime(message, context, index), receivedAt: context.receivedAt, type, events: [] };
  if (aliases) hit.aliases = aliases;
  if (message.properties !== undefined && message.properties !== null && !isRecord(message.properties)) throw invalid('properties must be an object', index);
  const properties = message.properties as Record<string, unknown> | undefined;
  const messageContext = message.context ?? context.context;
  if (messageContext !== undefined && messageContext !== null && !isRecord(messageContext)) throw invalid('context must be an object', index);
  if (type === 'track') trackFields(hit, message, properties, index);
  pageFields(hit, message, properties, messageContext, index);
  const dims = dimensions(properties, messageContext, message, index);
  if (dims) hit.dims = dims;
  if ((type === 'identify' || type === 'group') && message.traits !== undefined && message.traits !== null) {
    if (!isRecord(message.traits)) throw invalid('traits must be an object', index);
    hit.traits = cleanValue(message.traits, index) as Record<string, unknown>;
  }
  return hit;
}

/** The messages of a /v1/batch (or /v1/import) body, each checked against the 32 KB limit. */
export function batchMessages(body: Record<string, unknown>, raw: Buffer): unknown[] {
  const batch = body.batch;
  if (!Array.isArray(batch)) throw new ReboundError('INGEST_BODY_MALFORMED', 'batch must be an array of messages');
  // A body under 32 KB cannot hold a message over 32 KB, nor can a body whose other messages take
  // all but 32 KB of it (their lower bounds): then the per-message measurement is skipped.
  if (!elementsWithin(batch, raw.length, segmentMessageBytes)) {
    arrayElementBytes(raw, 'batch').forEach((bytes, i) => {
      if (bytes > segmentMessageBytes) throw new ReboundError('INGEST_MESSAGE_TOO_LARGE', `message ${i} exceeds 32 KB`, { index: i });
    });
  }
  return batch;
}

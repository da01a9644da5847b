// The event data of a preview (a test profile's `event:`, or the request's `ctx`) as the trigger
// message production would render from: `dims` and `summary` become the session summary,
// `products` the cart, `aliases` the aliases; any other key is added to `ctx` as it is (what
// test-profile.ts `previewContext` does for the SMS length check at publish). Only scalar
// dimension values exist in production, so other values of `dims` are left out.
import type { FiredRecord } from '../model/trigger-message.js';

type Scalar = string | number | boolean;

/** Keys a trigger message defines; other keys of the data are extra `ctx` fields. */
const recordKeys = new Set(['dims', 'summary', 'products', 'aliases', 'visitorId', 'firedAt', 'triggerName']);
/** Never copied: they would reach an object's prototype. */
const unsafeKeys = new Set(['__proto__', 'constructor', 'prototype']);

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);
const isScalar = (value: unknown): value is Scalar => typeof value === 'string' || typeof value === 'boolean' || (typeof value === 'number' && Number.isFinite(value));
const scalars = (value: unknown): Scalar[] => (Array.isArray(value) ? value : [value]).filter(isScalar);

function metadataOf(data: Record<string, unknown>): Record<string, Scalar[]> {
  const metadata: Record<string, Scalar[]> = {};
  const summary = isObject(data.summary) ? data.summary : {};
  const dims = isObject(data.dims) ? data.dims : {};
  for (const name of new Set([...Object.keys(summary), ...Object.keys(dims)])) {
    if (unsafeKeys.has(name)) continue;
    // The latest value (what `ctx.dims` shows) is the last one of the summary.
    const values = [...scalars(summary[name]), ...scalars(dims[name])];
    if (values.length > 0) metadata[name] = values;
  }
  return metadata;
}

function stringsOf(value: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (isObject(value)) for (const [name, text] of Object.entries(value)) if (typeof text === 'string' && !unsafeKeys.has(name)) out[name] = text;
  return out;
}

export interface PreviewRecord {
  fired: FiredRecord;
  /** Fields of the data that are not part of a trigger message, added to `ctx`. */
  extra: Record<string, unknown>;
}

export function previewRecord(data: Record<string, unknown>, triggerName: string, now: number, visitorId: string): PreviewRecord {
  const firedAt = typeof data.firedAt === 'number' && Number.isFinite(data.firedAt) ? data.firedAt : now;
  const cart = (Array.isArray(data.products) ? data.products.filter(isObject) : []) as FiredRecord['cart'];
  const extra: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(data)) if (!recordKeys.has(name) && !unsafeKeys.has(name)) extra[name] = value;
  const fired: FiredRecord = {
    triggerId: 'preview',
    triggerName: typeof data.triggerName === 'string' ? data.triggerName : triggerName,
    version: 0,
    source: 'preview',
    visitorId: typeof data.visitorId === 'string' ? data.visitorId : visitorId,
    firedAt,
    firstHitTs: firedAt,
    lastHitTs: firedAt,
    path: [],
    metadata: metadataOf(data),
    cart,
    aliases: stringsOf(data.aliases),
    type: 'preview',
  };
  return { fired, extra };
}

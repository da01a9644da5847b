// Turning untrusted input into canonical hits: the native form of SPEC §3 (`readHit`) and the
// helpers the Segment and Adobe mappings share (flattening into dims, cleaning nested objects).
// Hand-written checks rather than a schema library: this runs for every hit at 250k hits/s.
import { randomUUID } from 'node:crypto';
import { ReboundError } from '../core/errors.js';
import { hitLimits, hitTypes, isSafeKey, truncateBytes, type DimValue, type Hit, type HitType, type Product } from './hit.js';

export interface HitContext {
  source: string;
  receivedAt: number;
}

const typeSet = new Set<string>(hitTypes);

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function invalid(message: string, index: number): ReboundError {
  return new ReboundError('HIT_INVALID', message, { index });
}

function tooDeep(index: number): ReboundError {
  return new ReboundError('INGEST_NESTING_TOO_DEEP', `nesting deeper than ${hitLimits.maxDepth} levels`, { index });
}

export function optionalText(value: unknown, field: string, index: number, maxBytes: number = hitLimits.textBytes): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw invalid(`${field} must be a string`, index);
  return truncateBytes(value, maxBytes);
}

export function optionalNumber(value: unknown, field: string, index: number): number | undefined {
  if (value === undefined || value === null) return undefined;
  const number = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
  if (typeof number !== 'number' || !Number.isFinite(number)) throw invalid(`${field} must be a number`, index);
  return number;
}

/**
 * Dotted dim names (`prefix.key`) come from a tree of cached names: the same few dozen names
 * recur in every message, and a cached name is one string V8 has hashed and internalized already,
 * where a fresh concatenation is built, hashed and looked up again for every dim of every hit
 * (here and in the encoder). A node holds its own name and its children by key, so flattening
 * costs one map lookup per key. The cache is bounded in count and name length; other names
 * (arbitrary client keys) are concatenated as before, under a node that caches nothing.
 */
export interface DimName {
  readonly name: string;
  /** undefined: names under this one are not cached. */
  readonly children: Map<string, DimName> | undefined;
}

const maxCachedNames = 20_000;
const maxCachedNameLength = 128;
let cachedNames = 0;
const rootNames = new Map<string, DimName>();

/** The node of a top-level dim name (`properties`, `context`, …). */
export function dimName(name: string): DimName {
  let node = rootNames.get(name);
  if (node === undefined) rootNames.set(name, (node = { name, children: new Map() }));
  return node;
}

/** The node of `parent.key`. */
export function dimChild(parent: DimName, key: string): DimName {
  const children = parent.children;
  if (children === undefined) return { name: `${parent.name}.${key}`, children: undefined };
  let node = children.get(key);
  if (node !== undefined) return node;
  if (cachedNames >= maxCachedNames || parent.name.length + key.length >= maxCachedNameLength) return { name: `${parent.name}.${key}`, children: undefined };
  // A property key is internalized: the cache keeps that copy rather than the concatenation.
  const name = Object.keys({ [`${parent.name}.${key}`]: 0 })[0] as string;
  cachedNames++;
  children.set(key, (node = { name, children: new Map() }));
  return node;
}

/** Scalars of a nested value become dims named `name.path`; objects deeper than maxDepth are refused. */
export function flattenInto(dims: Record<string, DimValue>, name: DimName, value: unknown, index: number, depth = 0): void {
  if (typeof value === 'string') dims[name.name] = truncateBytes(value, hitLimits.textBytes);
  else if (typeof value === 'number') {
    if (Number.isFinite(value)) dims[name.name] = value;
  } else if (typeof value === 'boolean') dims[name.name] = value;
  else if (typeof value === 'object' && value !== null) {
    if (depth >= hitLimits.maxDepth) throw tooDeep(index);
    if (Array.isArray(value)) {
      for (let i = 0; i < value.length; i++) flattenInto(dims, dimChild(name, String(i)), value[i], index, depth + 1);
    } else {
      for (const key in value) {
        if (Object.hasOwn(value, key) && isSafeKey(key)) flattenInto(dims, dimChild(name, key), (value as Record<string, unknown>)[key], index, depth + 1);
      }
    }
  }
}

/** A copy of a nested value without prototype-reaching keys, bounded in depth. */
export function cleanValue(value: unknown, index: number, depth = 0): unknown {
  if (typeof value !== 'object' || value === null) return value;
  if (depth >= hitLimits.maxDepth) throw tooDeep(index);
  if (Array.isArray(value)) return value.map((item) => cleanValue(item, index, depth + 1));
  const out: Record<string, unknown> = {};
  for (const key in value) {
    if (Object.hasOwn(value, key) && isSafeKey(key)) out[key] = cleanValue((value as Record<string, unknown>)[key], index, depth + 1);
  }
  return out;
}

function readStringMap(value: unknown, field: string, index: number): Record<string, string> | undefined {
  if (value === undefined || value === null) return undefined;
  if (!isRecord(value)) throw invalid(`${field} must be an object of strings`, index);
  const out: Record<string, string> = {};
  let any = false;
  for (const key in value) {
    if (!Object.hasOwn(value, key) || !isSafeKey(key)) continue;
    const item = value[key];
    if (typeof item !== 'string') throw invalid(`${field}.${key} must be a string`, index);
    out[key] = truncateBytes(item, hitLimits.idBytes);
    any = true;
  }
  return any ? out : undefined;
}

function readNumberMap(value: unknown, field: string, index: number): Record<string, number> | undefined {
  if (value === undefined || value === null) return undefined;
  if (!isRecord(value)) throw invalid(`${field} must be an object of numbers`, index);
  const out: Record<string, number> = {};
  for (const key in value) {
    if (!Object.hasOwn(value, key) || !isSafeKey(key)) continue;
    out[key] = optionalNumber(value[key], `${field}.${key}`, index) ?? 0;
  }
  return out;
}

function readDims(value: unknown, index: number): Record<string, DimValue> | undefined {
  if (value === undefined || value === null) return undefined;
  if (!isRecord(value)) throw invalid('dims must be an object', index);
  const out: Record<string, DimValue> = {};
  for (const key in value) {
    if (!Object.hasOwn(value, key) || !isSafeKey(key)) continue;
    const item = value[key];
    if (typeof item === 'string') out[key] = truncateBytes(item, hitLimits.textBytes);
    else if ((typeof item === 'number' && Number.isFinite(item)) || typeof item === 'boolean') out[key] = item;
    else throw invalid(`dims.${key} must be a string, number or boolean`, index);
  }
  return out;
}

/** `sku`: the product's id when the caller found it elsewhere (a Segment event's own properties). */
export function readProduct(value: unknown, index: number, at: string, sku: unknown = undefined): Product {
  if (!isRecord(value)) throw invalid(`${at} must be an object`, index);
  sku ??= value.sku ?? value.product_id ?? value.id;
  if ((typeof sku !== 'string' && typeof sku !== 'number') || String(sku) === '') throw invalid(`${at}.sku is required`, index);
  const product: Product = { sku: truncateBytes(String(sku), hitLimits.idBytes) };
  const name = optionalText(value.name, `${at}.name`, index);
  if (name !== undefined) product.name = name;
  const category = optionalText(value.category, `${at}.category`, index);
  if (category !== undefined) product.category = category;
  const quantity = optionalNumber(value.quantity, `${at}.quantity`, index);
  if (quantity !== undefined) product.quantity = quantity;
  const price = optionalNumber(value.price, `${at}.price`, index);
  if (price !== undefined) product.price = price;
  return product;
}

function readProducts(value: unknown, index: number): Product[] | undefined {
  if (value === undefined || value === null) return undefined;
  if (!Array.isArray(value)) throw invalid('products must be an array', index);
  if (value.length > hitLimits.maxProducts) throw invalid(`more than ${hitLimits.maxProducts} products`, index);
  return value.map((item, i) => readProduct(item, index, `products.${i}`));
}

function readEvents(value: unknown, index: number): string[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw invalid('events must be an array of strings', index);
  for (const event of value) if (typeof event !== 'string' || event === '') throw invalid('events must be an array of non-empty strings', index);
  return value as string[];
}

export function requiredId(value: unknown, field: string, index: number): string {
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  if (typeof value !== 'string' || value === '') throw invalid(`${field} is required (a non-empty string)`, index);
  return truncateBytes(value, hitLimits.idBytes);
}

/** A hit of `/v1/hits` or a WebSocket frame; `source` and `receivedAt` are the server's. */
export function readHit(raw: unknown, context: HitContext, index: number): Hit {
  if (!isRecord(raw)) throw invalid('a hit must be an object', index);
  const type = raw.type ?? 'track';
  if (typeof type !== 'string' || !typeSet.has(type)) throw invalid(`type must be one of ${hitTypes.join(', ')}`, index);
  const id = raw.id === undefined || raw.id === null ? randomUUID() : requiredId(raw.id, 'id', index);
  const hit: Hit = {
    id,
    source: context.source,
    visitorId: requiredId(raw.visitorId, 'visitorId', index),
    ts: optionalNumber(raw.ts, 'ts', index) ?? context.receivedAt,
    receivedAt: context.receivedAt,
    type: type as HitType,
    events: readEvents(raw.events, index),
  };
  assignOptional(hit, raw, index);
  return hit;
}

function assignOptional(hit: Hit, raw: Record<string, unknown>, index: number): void {
  const aliases = readStringMap(raw.aliases, 'aliases', index);
  if (aliases) hit.aliases = aliases;
  const eventValues = readNumberMap(raw.eventValues, 'eventValues', index);
  if (eventValues) hit.eventValues = eventValues;
  for (const field of ['pageName', 'pageURL', 'referrer', 'searchTerm'] as const) {
    const text = optionalText(raw[field], field, index);
    if (text !== undefined) hit[field] = text;
  }
  const products = readProducts(raw.products, index);
  if (products) hit.products = products;
  const dims = readDims(raw.dims, index);
  if (dims) hit.dims = dims;
  if (raw.traits !== undefined && raw.traits !== null) {
    if (!isRecord(raw.traits)) throw invalid('traits must be an object', index);
    hit.traits = cleanValue(raw.traits, index) as Record<string, unknown>;
  }
}

// The canonical hit of SPEC §3: what every ingest route produces and what the detect stage reads.
// Stream entries of `hits` carry a msgpack array of these (one entry per partition per flush).
import { decode, encode } from '../core/codec.js';

export const hitTypes = ['page', 'track', 'identify', 'alias', 'screen', 'group'] as const;
export type HitType = (typeof hitTypes)[number];

export interface Product {
  sku: string;
  name?: string;
  category?: string;
  quantity?: number;
  price?: number;
}

export type DimValue = string | number | boolean;

export interface Hit {
  /** Stable across client retries (Segment messageId, or a hash of an Adobe request): detect de-duplicates by it. */
  id: string;
  source: string;
  visitorId: string;
  aliases?: Record<string, string>;
  ts: number;
  receivedAt: number;
  type: HitType;
  events: string[];
  eventValues?: Record<string, number>;
  pageName?: string;
  pageURL?: string;
  referrer?: string;
  searchTerm?: string;
  products?: Product[];
  dims?: Record<string, DimValue>;
  traits?: Record<string, unknown>;
}

/** Analytics sizes (SPEC §3) and the bounds of what a hit may carry. */
export const hitLimits = {
  eVarBytes: 255,
  propBytes: 100,
  /** Other strings (page URL, names, dimension values). */
  textBytes: 4096,
  idBytes: 256,
  /** Nesting depth of properties, traits and context objects. */
  maxDepth: 16,
  maxProducts: 1000,
} as const;

/** Keys that could reach an object's prototype are dropped everywhere, never merged (SPEC §3). */
export function isSafeKey(key: string): boolean {
  // Three comparisons rather than a Set: this runs for every key of every message.
  return key !== '__proto__' && key !== 'constructor' && key !== 'prototype';
}

/** Cuts a string to at most maxBytes of UTF-8 without splitting a character. */
export function truncateBytes(text: string, maxBytes: number): string {
  if (text.length * 3 <= maxBytes) return text;
  const bytes = Buffer.from(text, 'utf8');
  if (bytes.length <= maxBytes) return text;
  let end = maxBytes;
  while (end > 0 && ((bytes[end] ?? 0) & 0xc0) === 0x80) end--;
  return bytes.subarray(0, end).toString('utf8');
}

export function encodeHits(hits: readonly Hit[]): Buffer {
  return encode(hits);
}

export function decodeHits(data: Buffer | Uint8Array): Hit[] {
  return decode<Hit[]>(data);
}

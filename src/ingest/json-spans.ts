// Byte sizes of the elements of one array in a raw JSON body, found in one pass over the bytes,
// so that the 32 KB limit per Segment message is checked without serialising each message again.
// The body has already been parsed successfully: this scanner only tracks strings and nesting
// (and may take every byte ≤ 0x20 outside strings for white space: nothing else is valid there).
// One loop without calls: it runs over every byte of every Segment batch that needs it.
// `jsonBytesAtLeast` bounds a parsed value's raw size from below (about a tenth of the scan's
// cost), which proves most batches free of oversize messages without scanning them.

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COLON = 0x3a;
const COMMA = 0x2c;
const OPEN_ARRAY = 0x5b;
const OPEN_OBJECT = 0x7b;
const CLOSE_ARRAY = 0x5d;
const CLOSE_OBJECT = 0x7d;
const SPACE = 0x20;

/** Raw byte length of each element of the array under `key` of the top-level object. */
export function arrayElementBytes(raw: Buffer, key: string): number[] {
  const sizes: number[] = [];
  const wanted = Buffer.from(JSON.stringify(key));
  const length = raw.length;
  let depth = 0;
  let lastKeyMatches = false;
  let target = false; // inside the wanted array
  let start = -1; // first byte of the current element
  let end = -1; // last non-space byte of the current element
  for (let i = 0; i < length; i++) {
    const c = raw[i] as number;
    if (c <= SPACE) continue;
    const atElementLevel = target && depth === 2;
    if (c === QUOTE) {
      const open = i;
      if (atElementLevel && start < 0) start = open;
      for (i++; i < length; i++) {
        const s = raw[i];
        if (s === QUOTE) break;
        if (s === BACKSLASH) i++;
      }
      if (depth === 1) lastKeyMatches = i - open + 1 === wanted.length && raw.compare(wanted, 0, wanted.length, open, i + 1) === 0;
      end = i;
      continue;
    }
    if (atElementLevel) {
      if (c === COMMA) {
        if (start >= 0) sizes.push(end - start + 1);
        start = -1;
        continue;
      }
      if (start < 0 && c !== CLOSE_ARRAY && c !== CLOSE_OBJECT) start = i;
    }
    if (c === OPEN_ARRAY || c === OPEN_OBJECT) {
      depth++;
      if (depth === 2 && c === OPEN_ARRAY && lastKeyMatches) target = true;
    } else if (c === CLOSE_ARRAY || c === CLOSE_OBJECT) {
      if (atElementLevel) {
        if (start >= 0) sizes.push(end - start + 1);
        start = -1;
        target = false;
      }
      depth--;
      end = i;
    } else if (c === COLON) {
      if (depth !== 1) lastKeyMatches = false;
    } else {
      end = i;
    }
  }
  return sizes;
}

/** Containers nested deeper than this count as their brackets only (still a lower bound). */
const maxBoundDepth = 64;

/**
 * A lower bound of the raw UTF-8 bytes of any JSON text that JSON.parse turns into `value`: a
 * string's UTF-16 units each took at least one byte (an escape takes more), a number at least
 * one digit, and white space and repeated keys only add bytes. Own keys only, as JSON.parse
 * makes them (an enumerable key on Object.prototype must not inflate the bound).
 */
export function jsonBytesAtLeast(value: unknown, depth = 0): number {
  if (typeof value === 'string') return value.length + 2;
  if (typeof value === 'number') return 1;
  if (typeof value === 'boolean') return value ? 4 : 5;
  if (typeof value !== 'object' || value === null) return 4;
  if (depth >= maxBoundDepth) return 2;
  if (Array.isArray(value)) {
    // `[` `]` and n − 1 commas: 1 + n for n ≥ 1.
    let bytes = 1 + value.length;
    for (let i = 0; i < value.length; i++) bytes += jsonBytesAtLeast(value[i], depth + 1);
    return Math.max(bytes, 2);
  }
  // `{` `}`, n − 1 commas, and per key its quotes and colon: 1 + Σ (key + 4 + value) for n ≥ 1.
  let bytes = 1;
  for (const key in value) {
    if (Object.hasOwn(value, key)) bytes += key.length + 4 + jsonBytesAtLeast((value as Record<string, unknown>)[key], depth + 1);
  }
  return Math.max(bytes, 2);
}

/**
 * True when no element of `elements` can take more than `limit` raw bytes in a body of
 * `bodyBytes` that holds them all: element i takes at most the body less the bounds of the
 * others (the elements are disjoint parts of the body).
 */
export function elementsWithin(elements: readonly unknown[], bodyBytes: number, limit: number): boolean {
  if (bodyBytes <= limit) return true;
  let total = 0;
  let largest = 0;
  for (let i = 0; i < elements.length; i++) {
    const bytes = jsonBytesAtLeast(elements[i]);
    total += bytes;
    if (bytes > largest) largest = bytes;
  }
  return bodyBytes - total + largest <= limit;
}

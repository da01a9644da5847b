// The MessagePack writer of `hits` stream entries, specialised for canonical hits. It writes the
// record format of src/core/codec.ts (msgpackr: `d4 72 id [keys]` defines record `id` on its first
// use in an entry, the byte `id` (0x40–0x7f) refers to it afterwards), so `decodeHits` reads its
// entries unchanged, but it knows the fields of a hit and of a product instead of walking every
// object's keys, and it builds an entry hit by hit (`HitEntryBuilder`): the ingest writer encodes
// each hit as it arrives, so hits never outlive their request's parsing (less for the GC to copy)
// and a flush only closes the entries. Nested client objects (dims, traits, …) get records through
// a small bounded table of key lists; a value that is not plain data is written by the generic
// encoder without records (standard MessagePack, read back the same).
import { encodePlain } from '../core/codec.js';
import type { Hit, Product } from './hit.js';

// The entry being written: the builder in use loads its state here (one hit at a time).
let target: Buffer = Buffer.alloc(0);
let view: DataView = new DataView(target.buffer, target.byteOffset, target.length);
let position = 0;
let ids = new Map<Shape, number>();
let nextId = 0x40;
const lastId = 0x7f;

function setTarget(buffer: Buffer): void {
  target = buffer;
  view = new DataView(buffer.buffer, buffer.byteOffset, buffer.length);
}

/** Room for `bytes` more: the entry moves to a buffer twice as big. */
function room(bytes: number): void {
  if (position + bytes <= target.length) return;
  const next = Buffer.allocUnsafeSlow(Math.max(4096, (position + bytes) * 2));
  target.copy(next, 0, 0, position);
  setTarget(next);
}

function writeString(value: string): void {
  const length = value.length;
  room(length * 3 + 5);
  const header = length < 0x20 ? 1 : length < 0x100 ? 2 : length < 0x10000 ? 3 : 5;
  let at = position + header;
  if (length < 0x40) {
    // A local reference: the loop stores through it without reloading the module's buffer.
    const out = target;
    for (let i = 0; i < length; i++) {
      let c = value.charCodeAt(i);
      if (c < 0x80) out[at++] = c;
      else if (c < 0x800) {
        out[at++] = (c >> 6) | 0xc0;
        out[at++] = (c & 0x3f) | 0x80;
      } else {
        const d = value.charCodeAt(i + 1);
        if ((c & 0xfc00) === 0xd800 && (d & 0xfc00) === 0xdc00) {
          c = 0x10000 + ((c & 0x03ff) << 10) + (d & 0x03ff);
          i++;
          out[at++] = (c >> 18) | 0xf0;
          out[at++] = ((c >> 12) & 0x3f) | 0x80;
        } else out[at++] = (c >> 12) | 0xe0;
        out[at++] = ((c >> 6) & 0x3f) | 0x80;
        out[at++] = (c & 0x3f) | 0x80;
      }
    }
  } else at += target.write(value, at, 'utf8');
  const bytes = at - position - header;
  // The header was sized for the character count; the byte count may need a longer one.
  const needed = bytes < 0x20 ? 1 : bytes < 0x100 ? 2 : bytes < 0x10000 ? 3 : 5;
  if (needed !== header) target.copyWithin(position + needed, position + header, at);
  if (needed === 1) target[position++] = 0xa0 | bytes;
  else if (needed === 2) {
    target[position++] = 0xd9;
    target[position++] = bytes;
  } else if (needed === 3) {
    target[position++] = 0xda;
    target[position++] = bytes >> 8;
    target[position++] = bytes & 0xff;
  } else {
    target[position++] = 0xdb;
    view.setUint32(position, bytes);
    position += 4;
  }
  position += bytes;
}

/** Numbers exactly as msgpackr writes them with records on (0x40–0x7f are record ids, not fixints). */
function writeNumber(value: number): void {
  room(9);
  if (value >>> 0 === value) {
    if (value < 0x40) target[position++] = value;
    else if (value < 0x100) {
      target[position++] = 0xcc;
      target[position++] = value;
    } else if (value < 0x10000) {
      target[position++] = 0xcd;
      target[position++] = value >> 8;
      target[position++] = value & 0xff;
    } else {
      target[position++] = 0xce;
      view.setUint32(position, value);
      position += 4;
    }
  } else if (value >> 0 === value) {
    if (value >= -0x20) target[position++] = 0x100 + value;
    else if (value >= -0x80) {
      target[position++] = 0xd0;
      target[position++] = value + 0x100;
    } else if (value >= -0x8000) {
      target[position++] = 0xd1;
      view.setInt16(position, value);
      position += 2;
    } else {
      target[position++] = 0xd2;
      view.setInt32(position, value);
      position += 4;
    }
  } else {
    target[position++] = 0xcb;
    view.setFloat64(position, value);
    position += 8;
  }
}

function writeHeader(length: number, small: number, mid: number, big: number): void {
  room(5);
  if (length < 0x10) target[position++] = small | length;
  else if (length < 0x10000) {
    target[position++] = mid;
    target[position++] = length >> 8;
    target[position++] = length & 0xff;
  } else {
    target[position++] = big;
    view.setUint32(position, length);
    position += 4;
  }
}

function writeValue(value: unknown): void {
  if (typeof value === 'string') writeString(value);
  else if (typeof value === 'number') writeNumber(value);
  else if (typeof value === 'boolean') {
    room(1);
    target[position++] = value ? 0xc3 : 0xc2;
  } else if (value === null) {
    room(1);
    target[position++] = 0xc0;
  } else if (value === undefined) {
    room(3);
    target[position++] = 0xd4;
    target[position++] = 0;
    target[position++] = 0;
  } else if (Array.isArray(value)) {
    if (value.constructor !== Array) return writePlain(value);
    writeHeader(value.length, 0x90, 0xdc, 0xdd);
    for (let i = 0; i < value.length; i++) writeValue(value[i]);
  } else if (typeof value === 'object' && value.constructor === Object) writeObject(value as Record<string, unknown>);
  else writePlain(value);
}

/** Anything else (a typed array, a null-prototype object, …) as the generic encoder writes it, without records. */
function writePlain(value: unknown): void {
  const bytes = encodePlain(value);
  room(bytes.length);
  bytes.copy(target, position);
  position += bytes.length;
}

/** A key list; `keysBytes` is its MessagePack array, written when an entry defines it. */
interface Shape {
  keysBytes: Buffer | undefined;
  readonly keys: readonly string[];
}

function newShape(keys: readonly string[]): Shape {
  return { keysBytes: undefined, keys };
}

/** Writes the record reference, defining the record first when this entry has not used it; false when ids ran out. */
function writeRecordStart(shape: Shape): boolean {
  const id = ids.get(shape);
  if (id !== undefined) {
    room(1);
    target[position++] = id;
    return true;
  }
  if (nextId > lastId) return false;
  ids.set(shape, nextId);
  // The key list is written once per shape and kept: an array of strings, as the generic encoder writes it.
  shape.keysBytes ??= Buffer.from(encodePlain(shape.keys));
  const keysBytes = shape.keysBytes;
  room(3 + keysBytes.length);
  target[position++] = 0xd4;
  target[position++] = 0x72;
  target[position++] = nextId++;
  keysBytes.copy(target, position);
  position += keysBytes.length;
  return true;
}

// Key lists of nested plain objects, as a tree of keys (the same few lists recur in every hit).
// Each node remembers the child it handed out last: objects of one shape (the dims of every hit
// of a batch) then walk the tree with one string comparison per key instead of a map lookup.
interface KeyNode {
  readonly children: Map<string, KeyNode>;
  shape: Shape | undefined;
  lastKey: string | undefined;
  lastChild: KeyNode | undefined;
}
const maxKeyNodes = 4096;
let keyNodes = 0;
const newKeyNode = (): KeyNode => ({ children: new Map(), shape: undefined, lastKey: undefined, lastChild: undefined });
let keyRoot: KeyNode = newKeyNode();

function objectShape(object: Record<string, unknown>): Shape | undefined {
  let node = keyRoot;
  let count = 0;
  for (const key in object) {
    if (!Object.hasOwn(object, key)) return undefined;
    let child = node.lastKey === key ? node.lastChild : node.children.get(key);
    if (child === undefined) {
      if (keyNodes >= maxKeyNodes) {
        // Arbitrary client keys filled the table: start over (entries written so far are complete).
        keyRoot = newKeyNode();
        keyNodes = 0;
        return undefined;
      }
      keyNodes++;
      node.children.set(key, (child = newKeyNode()));
    }
    node.lastKey = key;
    node.lastChild = child;
    node = child;
    count++;
  }
  if (count === 0) return undefined;
  return (node.shape ??= newShape(Object.keys(object)));
}

function writeObject(object: Record<string, unknown>): void {
  const shape = objectShape(object);
  if (shape !== undefined && writeRecordStart(shape)) {
    for (const key in object) writeValue(object[key]);
    return;
  }
  // A plain map: empty objects, and objects past the table or the ids of this entry.
  const keys = Object.keys(object);
  writeHeader(keys.length, 0x80, 0xde, 0xdf);
  for (const key of keys) {
    writeString(key);
    writeValue(object[key]);
  }
}

// Hits and products: the shape follows from which optional fields are set (a bit each).
const hitRequired = ['id', 'source', 'visitorId', 'ts', 'receivedAt', 'type', 'events'] as const;
const hitOptional = ['aliases', 'eventValues', 'pageName', 'pageURL', 'referrer', 'searchTerm', 'products', 'dims', 'traits'] as const;
const hitShapes: Array<Shape | undefined> = [];
const productOptional = ['name', 'category', 'quantity', 'price'] as const;
const productShapes: Array<Shape | undefined> = [];
// A field added to Hit or Product and not listed above would be dropped silently: make it a type error.
type Unlisted<T, Listed> = [Exclude<keyof T, Listed>] extends [never] ? true : never;
export const everyHitFieldListed: Unlisted<Hit, (typeof hitRequired)[number] | (typeof hitOptional)[number]> = true;
export const everyProductFieldListed: Unlisted<Product, 'sku' | (typeof productOptional)[number]> = true;

function shapeOf(shapes: Array<Shape | undefined>, mask: number, required: readonly string[], optional: readonly string[]): Shape {
  let shape = shapes[mask];
  if (shape === undefined) {
    const keys = [...required];
    for (let bit = 0; bit < optional.length; bit++) if ((mask & (1 << bit)) !== 0) keys.push(optional[bit] as string);
    shapes[mask] = shape = newShape(keys);
  }
  return shape;
}

function writeProduct(product: Product): void {
  if (typeof product !== 'object' || product === null || product.constructor !== Object) return writeValue(product);
  const mask = (product.name !== undefined ? 1 : 0) | (product.category !== undefined ? 2 : 0) | (product.quantity !== undefined ? 4 : 0) | (product.price !== undefined ? 8 : 0);
  const shape = shapeOf(productShapes, mask, ['sku'], productOptional);
  if (!writeRecordStart(shape)) return writeObject(product as unknown as Record<string, unknown>);
  writeValue(product.sku);
  if (product.name !== undefined) writeValue(product.name);
  if (product.category !== undefined) writeValue(product.category);
  if (product.quantity !== undefined) writeValue(product.quantity);
  if (product.price !== undefined) writeValue(product.price);
}

function writeHit(hit: Hit): void {
  if (typeof hit !== 'object' || hit === null || hit.constructor !== Object) return writeValue(hit);
  const mask =
    (hit.aliases !== undefined ? 1 : 0) |
    (hit.eventValues !== undefined ? 2 : 0) |
    (hit.pageName !== undefined ? 4 : 0) |
    (hit.pageURL !== undefined ? 8 : 0) |
    (hit.referrer !== undefined ? 16 : 0) |
    (hit.searchTerm !== undefined ? 32 : 0) |
    (hit.products !== undefined ? 64 : 0) |
    (hit.dims !== undefined ? 128 : 0) |
    (hit.traits !== undefined ? 256 : 0);
  const shape = shapeOf(hitShapes, mask, hitRequired, hitOptional);
  if (!writeRecordStart(shape)) return writeObject(hit as unknown as Record<string, unknown>);
  writeValue(hit.id);
  writeValue(hit.source);
  writeValue(hit.visitorId);
  writeValue(hit.ts);
  writeValue(hit.receivedAt);
  writeValue(hit.type);
  writeValue(hit.events);
  if (hit.aliases !== undefined) writeValue(hit.aliases);
  if (hit.eventValues !== undefined) writeValue(hit.eventValues);
  if (hit.pageName !== undefined) writeValue(hit.pageName);
  if (hit.pageURL !== undefined) writeValue(hit.pageURL);
  if (hit.referrer !== undefined) writeValue(hit.referrer);
  if (hit.searchTerm !== undefined) writeValue(hit.searchTerm);
  if (hit.products !== undefined) {
    const products = hit.products;
    if (!Array.isArray(products) || products.constructor !== Array) return writeValue(products);
    writeHeader(products.length, 0x90, 0xdc, 0xdd);
    for (const product of products) writeProduct(product);
  }
  if (hit.dims !== undefined) writeValue(hit.dims);
  if (hit.traits !== undefined) writeValue(hit.traits);
}

/** Room for the array header, written when the entry is finished: array 32 (`dd` + count). */
const headerBytes = 5;

/** Buffers a builder keeps for its next entries once Redis has taken the ones it handed out. */
const maxSpares = 4;
/** Bigger buffers (a burst of huge hits) are not kept: at most 16 partitions × 4 × 256 KB stay allocated. */
const maxSpareBytes = 256 * 1024;

/**
 * One `hits` entry built hit by hit; `finish` hands out its bytes and starts the next entry.
 * `release` gives a finished entry's buffer back once nothing reads it any more (its XADD has
 * answered): the next entries are written into it instead of a new buffer, so steady ingest
 * allocates no memory outside the JS heap for its entries (such allocations drive full GCs).
 */
export class HitEntryBuilder {
  #buffer: Buffer;
  #view: DataView;
  #position = headerBytes;
  #count = 0;
  #ids = new Map<Shape, number>();
  #nextId = 0x40;
  readonly #spares: Buffer[] = [];
  /** Buffers handed out by `finish` and not released yet (weak: an entry never released costs nothing here). */
  readonly #owned = new WeakMap<ArrayBufferLike, Buffer>();

  constructor(initialBytes = 16 * 1024) {
    this.#buffer = Buffer.allocUnsafeSlow(Math.max(initialBytes, 64));
    this.#view = new DataView(this.#buffer.buffer, this.#buffer.byteOffset, this.#buffer.length);
  }

  get count(): number {
    return this.#count;
  }

  add(hit: Hit): void {
    target = this.#buffer;
    view = this.#view;
    position = this.#position;
    ids = this.#ids;
    nextId = this.#nextId;
    try {
      writeHit(hit);
    } catch (err) {
      // Leave the entry as it was before this hit (records it defined included).
      for (const [shape, id] of this.#ids) if (id >= this.#nextId) this.#ids.delete(shape);
      this.#buffer = target;
      this.#view = view;
      throw err;
    }
    this.#buffer = target;
    this.#view = view;
    this.#position = position;
    this.#nextId = nextId;
    this.#count++;
  }

  /** The entry's `d` field (a MessagePack array of the hits added), or undefined when none was. */
  finish(): Buffer | undefined {
    if (this.#count === 0) return undefined;
    const buffer = this.#buffer;
    buffer[0] = 0xdd;
    buffer.writeUInt32BE(this.#count, 1);
    const entry = buffer.subarray(0, this.#position);
    this.#owned.set(buffer.buffer, buffer);
    // The next entry gets another buffer (this one goes to Redis): a released one big enough for
    // one like it, else a new one.
    const wanted = Math.max(16 * 1024, Math.ceil(this.#position * 1.25));
    let next: Buffer | undefined;
    while (next === undefined && this.#spares.length > 0) {
      const spare = this.#spares.pop() as Buffer;
      if (spare.length >= wanted) next = spare;
    }
    this.#buffer = next ?? Buffer.allocUnsafeSlow(wanted);
    this.#view = new DataView(this.#buffer.buffer, this.#buffer.byteOffset, this.#buffer.length);
    this.#position = headerBytes;
    this.#count = 0;
    this.#ids.clear();
    this.#nextId = 0x40;
    return entry;
  }

  /**
   * Takes back an entry `finish` returned, for the next entries to be written into: only once
   * nothing reads it any more (the caller's XADD has answered). Entries of other builders and
   * anything else are ignored.
   */
  release(entry: Buffer): void {
    const whole = this.#owned.get(entry.buffer);
    if (whole === undefined || whole === this.#buffer) return;
    this.#owned.delete(entry.buffer);
    if (this.#spares.length < maxSpares && whole.length <= maxSpareBytes) this.#spares.push(whole);
  }
}

/** One entry's `d` field holding `hits`. */
export function encodeHitEntry(hits: readonly Hit[]): Buffer {
  const builder = new HitEntryBuilder(hits.length * 256);
  for (const hit of hits) builder.add(hit);
  return builder.finish() ?? Buffer.from([0x90]);
}

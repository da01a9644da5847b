// A MessagePack writer for values whose shape the caller knows (detect's visitor states): the
// caller walks its own objects and writes arrays, numbers, strings and booleans into one growing
// buffer, which holds every value written since the last take(). Plain MessagePack, as Redis's
// Lua cmsgpack and msgpackr (core/codec.ts) read it: integers in the smallest integer type up to
// 32 bits, other numbers as float64 (as msgpackr writes them), strings as UTF-8 str.
// Compared with encoding objects through msgpackr: no type dispatch per value, no buffer per
// state, and the states can live as objects with fields (which V8 updates in place) instead of
// the arrays msgpackr would need.

const initialBytes = 64 * 1024;
/** A buffer grown larger is dropped by clear(). */
const keptBytes = 8 * 1024 * 1024;

export class PackWriter {
  #buffer = Buffer.allocUnsafe(initialBytes);
  #view = new DataView(this.#buffer.buffer, this.#buffer.byteOffset, this.#buffer.byteLength);
  #position = 0;

  /** Bytes written since the last take(). */
  get length(): number {
    return this.#position;
  }

  /** Forgets what was written (and a buffer grown past `keptBytes` by an unusually large batch). */
  clear(): void {
    this.#position = 0;
    if (this.#buffer.length > keptBytes) this.#setBuffer(Buffer.allocUnsafe(initialBytes));
  }

  /** A copy of what was written; the writer starts again, empty. */
  take(): Buffer {
    const bytes = Buffer.from(this.#buffer.subarray(0, this.#position));
    this.#position = 0;
    return bytes;
  }

  array(length: number): void {
    this.#reserve(5);
    const b = this.#buffer;
    if (length < 16) b[this.#position++] = 0x90 | length;
    else if (length < 0x10000) {
      b[this.#position] = 0xdc;
      this.#view.setUint16(this.#position + 1, length);
      this.#position += 3;
    } else {
      b[this.#position] = 0xdd;
      this.#view.setUint32(this.#position + 1, length);
      this.#position += 5;
    }
  }

  /** The header of an array whose length closeArray() sets once known (array 32, whatever the length). */
  openArray(): number {
    this.#reserve(5);
    const at = this.#position;
    this.#buffer[at] = 0xdd;
    this.#position += 5;
    return at;
  }

  closeArray(at: number, length: number): void {
    this.#view.setUint32(at + 1, length);
  }

  number(value: number): void {
    this.#reserve(9);
    this.#position = writeNumber(this.#buffer, this.#view, this.#position, value);
  }

  string(value: string): void {
    const length = value.length;
    // ASCII, the common case, in JS (cheaper than a call into C++ for short strings).
    if (length < 32) {
      this.#reserve(1 + length);
      const b = this.#buffer;
      const start = this.#position;
      let p = start + 1;
      for (let i = 0; i < length; i++) {
        const c = value.charCodeAt(i);
        if (c >= 0x80) return this.#utf8(value);
        b[p++] = c;
      }
      b[start] = 0xa0 | length;
      this.#position = p;
      return;
    }
    this.#utf8(value);
  }

  boolean(value: boolean): void {
    this.#reserve(1);
    this.#buffer[this.#position++] = value ? 0xc3 : 0xc2;
  }

  /** A string, number or boolean. */
  scalar(value: string | number | boolean): void {
    if (typeof value === 'string') this.string(value);
    else if (typeof value === 'number') this.number(value);
    else this.boolean(value);
  }

  /** An array of numbers (room reserved once for all of them). */
  numbers(values: readonly number[]): void {
    const n = values.length;
    this.#reserve(5 + 9 * n);
    this.array(n);
    const b = this.#buffer;
    const view = this.#view;
    let p = this.#position;
    for (let i = 0; i < n; i++) p = writeNumber(b, view, p, values[i] as number);
    this.#position = p;
  }

  #utf8(value: string): void {
    const bytes = Buffer.byteLength(value, 'utf8');
    this.#reserve(5 + bytes);
    const b = this.#buffer;
    let p = this.#position;
    if (bytes < 32) b[p++] = 0xa0 | bytes;
    else if (bytes < 0x100) {
      b[p++] = 0xd9;
      b[p++] = bytes;
    } else if (bytes < 0x10000) {
      b[p++] = 0xda;
      this.#view.setUint16(p, bytes);
      p += 2;
    } else {
      b[p++] = 0xdb;
      this.#view.setUint32(p, bytes);
      p += 4;
    }
    b.write(value, p, bytes, "utf8");
    this.#position = p + bytes;
  }

  #reserve(bytes: number): void {
    if (this.#position + bytes <= this.#buffer.length) return;
    const grown = Buffer.allocUnsafe(Math.max(this.#buffer.length * 2, this.#position + bytes));
    this.#buffer.copy(grown, 0, 0, this.#position);
    this.#setBuffer(grown);
  }

  #setBuffer(buffer: Buffer<ArrayBuffer>): void {
    this.#buffer = buffer;
    this.#view = new DataView(buffer.buffer, buffer.byteOffset, buffer.byteLength);
  }
}

/** Writes `value` at `p` (room for 9 bytes reserved); the position after it. */
function writeNumber(b: Buffer, view: DataView, p: number, value: number): number {
  if (value >>> 0 === value) {
    if (value < 0x80) {
      b[p] = value;
      return p + 1;
    }
    if (value < 0x100) {
      b[p] = 0xcc;
      b[p + 1] = value;
      return p + 2;
    }
    if (value < 0x10000) {
      b[p] = 0xcd;
      b[p + 1] = value >>> 8;
      b[p + 2] = value;
      return p + 3;
    }
    b[p] = 0xce;
    b[p + 1] = value >>> 24;
    b[p + 2] = value >>> 16;
    b[p + 3] = value >>> 8;
    b[p + 4] = value;
    return p + 5;
  }
  if (value >> 0 === value) {
    if (value >= -0x20) {
      b[p] = value & 0xff;
      return p + 1;
    }
    if (value >= -0x80) {
      b[p] = 0xd0;
      b[p + 1] = value;
      return p + 2;
    }
    if (value >= -0x8000) {
      b[p] = 0xd1;
      b[p + 1] = value >> 8;
      b[p + 2] = value;
      return p + 3;
    }
    b[p] = 0xd2;
    b[p + 1] = value >> 24;
    b[p + 2] = value >> 16;
    b[p + 3] = value >> 8;
    b[p + 4] = value;
    return p + 5;
  }
  b[p] = 0xcb;
  view.setFloat64(p + 1, value);
  return p + 9;
}

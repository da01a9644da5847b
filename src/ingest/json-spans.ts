// Byte sizes of the elements of one array in a raw JSON body, found in one pass over the bytes,
// so that the 32 KB limit per Segment message is checked without serialising each message again.
// The body has already been parsed successfully: this scanner only tracks strings and nesting.

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COLON = 0x3a;
const COMMA = 0x2c;
const OPEN = new Set([0x5b, 0x7b]);
const CLOSE = new Set([0x5d, 0x7d]);
const isSpace = (c: number): boolean => c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;

/** Raw byte length of each element of the array under `key` of the top-level object. */
export function arrayElementBytes(raw: Buffer, key: string): number[] {
  const sizes: number[] = [];
  const wanted = Buffer.from(JSON.stringify(key));
  let depth = 0;
  let inString = false;
  let escaped = false;
  let stringStart = -1;
  let lastKeyMatches = false;
  let target = false; // inside the wanted array, at its element depth (2)
  let start = -1; // first byte of the current element
  let end = -1; // last non-space byte of the current element
  const close = (): void => {
    if (start >= 0) sizes.push(end - start + 1);
    start = -1;
  };
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i] as number;
    if (inString) {
      if (escaped) escaped = false;
      else if (c === BACKSLASH) escaped = true;
      else if (c === QUOTE) {
        inString = false;
        end = i;
        if (depth === 1) lastKeyMatches = raw.subarray(stringStart, i + 1).equals(wanted);
      }
      continue;
    }
    if (isSpace(c)) continue;
    const atElementLevel = target && depth === 2;
    if (atElementLevel && c === COMMA) {
      close();
      continue;
    }
    if (atElementLevel && start < 0 && !CLOSE.has(c)) start = i;
    if (c === QUOTE) {
      inString = true;
      stringStart = i;
    } else if (OPEN.has(c)) {
      depth++;
      if (depth === 2 && c === 0x5b && lastKeyMatches) target = true;
    } else if (CLOSE.has(c)) {
      if (atElementLevel) {
        close();
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

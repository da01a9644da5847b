// The entries of a JSON object text without building the object: V8 gives every new set of keys
// a hidden class of its own, so parsing objects keyed by data (a cart keyed by sku, over a large
// catalog) is several times slower than parsing the same data as arrays, and leaves garbage. The
// text `{"k":v,…}` is rewritten as `[["k",v],…]` (a strict scan of the top level; strings and
// nested values are left to JSON.parse), and the answer is exactly `Object.entries(JSON.parse(text))`:
// anything else (keys that are array indexes, which objects order first, repeated keys, text
// that is not an object) goes through JSON.parse itself, which also throws on malformed text.

const enum Expect {
  KeyOrEnd,
  Colon,
  Value,
  Key,
}

const arrayIndex = /^(?:0|[1-9][0-9]{0,9})$/;

function isBlank(code: number): boolean {
  return code === 0x20 || code === 0x0a || code === 0x0d || code === 0x09;
}

/** `[["k",v],…]` for a top-level JSON object text, or undefined when the scan cannot vouch for it. */
function pairsText(text: string): string | undefined {
  const n = text.length;
  let i = 0;
  while (i < n && isBlank(text.charCodeAt(i))) i++;
  if (text.charCodeAt(i) !== 0x7b) return undefined;
  let out = '[';
  let from = ++i;
  let depth = 1;
  let expect = Expect.KeyOrEnd;
  let pairs = 0;
  for (; i < n; i++) {
    const code = text.charCodeAt(i);
    if (code === 0x22) {
      const start = i;
      for (i++; i < n && text.charCodeAt(i) !== 0x22; i++) if (text.charCodeAt(i) === 0x5c) i++;
      if (i >= n) return undefined;
      if (depth > 1 || expect === Expect.Value) continue;
      if (expect === Expect.Colon) return undefined;
      out += `${text.slice(from, start)}[`;
      from = start;
      expect = Expect.Colon;
      pairs++;
      continue;
    }
    if (depth > 1) {
      if (code === 0x7b || code === 0x5b) depth++;
      else if (code === 0x7d || code === 0x5d) depth--;
      continue;
    }
    if (isBlank(code)) continue;
    if (expect === Expect.Colon) {
      if (code !== 0x3a) return undefined;
      out += `${text.slice(from, i)},`;
      from = i + 1;
      expect = Expect.Value;
    } else if (expect === Expect.Value) {
      if (code === 0x2c) {
        out += `${text.slice(from, i)}],`;
        from = i + 1;
        expect = Expect.Key;
      } else if (code === 0x7d) {
        out += `${text.slice(from, i)}]]`;
        return `${out}${text.slice(i + 1)}`;
      } else if (code === 0x7b || code === 0x5b) depth++;
      else if (code === 0x5d) return undefined;
    } else if (code === 0x7d && expect === Expect.KeyOrEnd && pairs === 0) {
      return `${out}]${text.slice(i + 1)}`;
    } else {
      return undefined;
    }
  }
  return undefined;
}

/** `Object.entries(JSON.parse(text))` for a JSON object text (throws like JSON.parse on malformed text). */
export function jsonObjectEntries(text: string): Array<[string, unknown]> {
  const rewritten = pairsText(text);
  if (rewritten !== undefined) {
    let entries: Array<[string, unknown]> | undefined;
    try {
      entries = JSON.parse(rewritten) as Array<[string, unknown]>;
    } catch {
      entries = undefined;
    }
    if (entries !== undefined && plainKeys(entries)) return entries;
  }
  return Object.entries(JSON.parse(text) as object);
}

/** No key an array index (objects list those first, in numeric order) and no key twice (the last value wins, at the first place). */
function plainKeys(entries: ReadonlyArray<[string, unknown]>): boolean {
  const seen = new Set<string>();
  for (const [key] of entries) {
    if (arrayIndex.test(key) || seen.has(key)) return false;
    seen.add(key);
  }
  return true;
}

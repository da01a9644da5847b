// One visitor's detect state and the fold that applies a hit to it. Every update commutes
// (min/max timestamps, sums, set unions), so the final state does not depend on the order of
// hits or on which process applied them; a hit id seen among the visitor's last 32 is skipped,
// so a retried message never counts twice.
//
// The state lives in the visitor's Redis hash (keys.visitor):
//   s   the state's version, then the state below, as plain MessagePack (two values one after
//       the other), written whole (one field, whatever the triggers). The version is bumped by
//       every write of detect (apply and fire): a write computed from an older state is refused
//       (lua/detect-apply.lua). A state written before the version moved into it starts with
//       the state itself, its version in the field v, removed at its next write.
//   ids declared ids (JSON), vn visit number, <p><slot>x earliest excluded hit of a trigger in
//       the visit of parity p: copies of what the campaign side reads (stages/campaign/visitor.ts)
//   link written by the click redirect; detect never touches it
// The state is positional (plain MessagePack arrays pack about 3× faster than objects, and
// Lua reads them as easily): [vn, dd (the last 32 hit hashes, 30-bit numbers, oldest first), visit
// of odd number, visit of even number] (0 for none). A visit: [s/l first/last received, f/t
// first/last hit time, h hits, bot 0|1, armed abandonment and session-end timers [slot, delay,
// …], cart [[sku, q, price|false, name|false, category|false], …], counts [metric, n, …],
// triggers [slot, trigger visit, …]]; a trigger visit: [include [container, earliest hit that satisfied it, …], earliest
// excluded hit (0 for none), metadata [name, [values], …], fired (0, or when lua/detect-fire.lua
// fired it)]. Absent values are 0 and lists are never holes, so Lua re-packs the same shape.
// A new visit replaces the visit before the last, so timers of the visit that just ended can
// still fire.
// In the process a state is objects with fields (Visit, TriggerVisit), which V8 updates in place
// (a time stored into an array would allocate a number each time), written in the positional
// form by a PackWriter.
import { decode } from '../../core/codec.js';
import { PackWriter } from '../../core/pack-writer.js';
import type { DimValue } from '../../model/hit.js';
import type { CartLine, HitEffect, Metadata } from './hit-effects.js';

type CartEntry = [sku: string, q: number, price: number | false, name: string | false, category: string | false];

interface TriggerVisit {
  /** [container, earliest hit time that satisfied it, …] */
  include: number[];
  excluded: number;
  /** [name, [values], …] */
  metadata: Array<string | DimValue[]>;
  fired: number;
}

interface Visit {
  s: number;
  l: number;
  f: number;
  t: number;
  h: number;
  bot: number;
  /** [slot, delay, …] */
  armed: number[];
  cart: CartEntry[];
  /** [metric, n, …] */
  counts: Array<string | number>;
  /** [slot, trigger visit, …] */
  triggers: Array<number | TriggerVisit>;
}

// Object literals, all fields set at once: V8 then keeps a time field as a number it updates in
// place (a class field declared first as undefined would take a new heap number per store).
const newTriggerVisit = (include: number[], excluded: number, metadata: Array<string | DimValue[]>, fired: number): TriggerVisit => ({ include, excluded, metadata, fired });

function newVisit(s: number, l: number, f: number, t: number, h: number, bot: number, armed: number[], cart: CartEntry[], counts: Array<string | number>, triggers: Array<number | TriggerVisit>): Visit {
  return { s, l, f, t, h, bot, armed, cart, counts, triggers };
}

/**
 * The empty list a new visit's or trigger visit's lists start as, one for all: a list grows into a
 * new array (appended()) and is never changed in place while empty, so none needs its own (an
 * empty array is 32 B, six per visitor in a typical visit).
 */
const none: never[] = [];

/** Positions of a stored visit's fields (lua/detect-fire.lua reads them at these positions + 1). */
const S = 0, L = 1, F = 2, T = 3, H = 4, BOT = 5, ARMED = 6, CART = 7, COUNTS = 8, TRIGGERS = 9;

/** What detect-load.lua returns for a visitor: the fields s, v (versions written before they moved into s) and ids (absent: null). */
export type LoadedVisitor = [state: Buffer | null, legacyVersion: Buffer | null, ids: Buffer | null];

/**
 * The version a stored state starts with and where the state after it begins; undefined for a
 * state written before the version moved into it (it starts with an array). The same rule as
 * lua/detect-apply.lua and lua/detect-fire.lua: a first byte of an unsigned integer or a float64.
 */
export function versionPrefix(s: Uint8Array): { version: number; at: number } | undefined {
  const b = s[0];
  if (b === undefined) return undefined;
  if (b < 0x80) return { version: b, at: 1 };
  const view = new DataView(s.buffer, s.byteOffset, s.byteLength);
  const sized = (at: number, read: () => number) => (s.length >= at ? { version: read(), at } : undefined);
  if (b === 0xcc) return sized(2, () => view.getUint8(1));
  if (b === 0xcd) return sized(3, () => view.getUint16(1));
  if (b === 0xce) return sized(5, () => view.getUint32(1));
  if (b === 0xcf) return sized(9, () => Number(view.getBigUint64(1)));
  if (b === 0xcb) return sized(9, () => view.getFloat64(1));
  return undefined;
}

/**
 * What writeTo() writes besides the state, which goes into a PackWriter (a batch's states, one
 * after the other); the detect stage passes the same one for every state (newStateWrite()).
 */
export interface StateWrite {
  /** Bytes of the state in the writer. */
  stateLength: number;
  /** Field, value pairs to set besides the state (the new version is in the state). */
  set: string[];
  remove: string[];
  /**
   * The hash's new time to live (ms), or 0 to leave it. Set when a visit starts, to the visitor
   * time to live plus the longest the visit can last (its source's maxDuration): the state then
   * outlives the visit's last hit by at least the visitor time to live, without a PEXPIRE per hit.
   */
  expireMs: number;
}

export const newStateWrite = (): StateWrite => ({ stateLength: 0, set: [], remove: [], expireMs: 0 });

/** write(): the state in a Buffer of its own. */
export interface VisitorWrite extends Omit<StateWrite, 'stateLength'> {
  state: Buffer;
}

/**
 * Timer members a batch arms, `slot|visit|visitorId` → due time; a member already waiting keeps
 * its time (ZADD NX). An abandonment or session-end timer is armed once per visit, at its first
 * qualifying hit: when it comes due while the visit goes on, lua/detect-fire.lua moves it to the
 * visit's last hit + the delay, so later hits need no timer write.
 */
export type TimerArms = Map<string, number>;

/** Metadata values kept per name and visit (SPEC §5: de-duplicated, bounded). */
const metadataBound = 10;
/** Recent hit hashes kept for de-duplication. */
const recentHashes = 32;

/**
 * The recent hashes of a stored state: its dd list (at most the last 32), text of older states (8 hex
 * characters per 32-bit hash, kept as its top 30 bits so the state stays bounded and is written
 * back as numbers; those hashes were sha1-based, so hits hashed by idHash do not match them,
 * docs/decisions.md), or none (Lua packs an empty list as a map).
 */
function recentOf(dd: unknown): number[] {
  if (Array.isArray(dd)) return dd.length <= recentHashes ? (dd as number[]) : (dd.slice(-recentHashes) as number[]);
  const recent: number[] = [];
  if (typeof dd === 'string') for (let i = 0; i + 8 <= dd.length; i += 8) recent.push(parseInt(dd.slice(i, i + 8), 16) >>> 2);
  return recent;
}

type Parity = 'a' | 'b';
const parity = (vn: number): Parity => (vn % 2 === 0 ? 'b' : 'a');
/** Where the visit of number vn sits in VisitorState's visits (odd, even; the stored state has them at 2 and 3). */
const visitIndex = (vn: number): 0 | 1 => (vn % 2 === 0 ? 1 : 0);

/** A stored list, or an empty one for anything else (a state written by hand, say). */
const listOf = <T>(value: unknown): T[] => (Array.isArray(value) ? (value as T[]) : []);
const numberOf = (value: unknown): number => (typeof value === 'number' ? value : 0);

function visitOf(stored: unknown): Visit | undefined {
  if (!Array.isArray(stored)) return undefined;
  const triggers = listOf<unknown>(stored[TRIGGERS]).slice();
  for (let i = 1; i < triggers.length; i += 2) {
    const t = listOf<unknown>(triggers[i]);
    triggers[i] = newTriggerVisit(listOf(t[0]), numberOf(t[1]), listOf(t[2]), numberOf(t[3]));
  }
  return newVisit(
    numberOf(stored[S]), numberOf(stored[L]), numberOf(stored[F]), numberOf(stored[T]), numberOf(stored[H]), numberOf(stored[BOT]),
    listOf(stored[ARMED]), listOf(stored[CART]), listOf(stored[COUNTS]), triggers as Array<number | TriggerVisit>,
  );
}

function packVisit(out: PackWriter, visit: Visit | undefined): void {
  if (visit === undefined) return out.number(0);
  out.array(10);
  out.number(visit.s);
  out.number(visit.l);
  out.number(visit.f);
  out.number(visit.t);
  out.number(visit.h);
  out.number(visit.bot);
  out.numbers(visit.armed);
  const cart = visit.cart;
  out.array(cart.length);
  for (let c = 0; c < cart.length; c++) {
    const entry = cart[c] as CartEntry;
    out.array(5);
    for (let i = 0; i < 5; i++) out.scalar(entry[i] as string | number | boolean);
  }
  const counts = visit.counts;
  out.array(counts.length);
  for (let i = 0; i < counts.length; i++) out.scalar(counts[i] as string | number);
  // [key, value, …] lists are written by pairs, so their header counts whole pairs (a state
  // written by hand may end with a key alone).
  const triggers = visit.triggers;
  out.array(triggers.length & ~1);
  for (let i = 0; i + 1 < triggers.length; i += 2) {
    out.number(triggers[i] as number);
    const t = triggers[i + 1] as TriggerVisit;
    out.array(4);
    out.numbers(t.include);
    out.number(t.excluded);
    out.array(t.metadata.length & ~1);
    for (let m = 0; m + 1 < t.metadata.length; m += 2) {
      out.string(t.metadata[m] as string);
      const values = t.metadata[m + 1] as DimValue[];
      out.array(values.length);
      for (let v = 0; v < values.length; v++) out.scalar(values[v] as DimValue);
    }
    out.number(t.fired);
  }
}

/** The hash field copying a trigger's earliest excluded hit of a visit (read by the campaign side). */
export const excludedField = (p: Parity, slot: number | string): string => `${p}${slot}x`;

function parseIds(raw: string | null): Record<string, string> {
  const ids = Object.create(null) as Record<string, string>;
  if (raw !== null) Object.assign(ids, JSON.parse(raw) as Record<string, string>);
  return ids;
}

/** write()'s writer, shared: write() is synchronous and take() copies (a writer per call would allocate its 64 KB buffer each time). */
const ownStateWriter = new PackWriter();

export class VisitorState {
  readonly key: string;
  /** The version this state was read or last written at, 0 for none: a write is refused if Redis has another. */
  #version: number;
  /** Read from the field v (a state written before the version moved into s): the next write removes it. */
  #legacyVersion: boolean;
  /** Absent until the first hit of a visitor without a stored state. */
  #present: boolean;
  #vn = 0;
  /** The last 32 hit hashes, oldest first. */
  #recent: number[] = [];
  /** The visits of odd and of even number. */
  readonly #visits: [Visit | undefined, Visit | undefined] = [undefined, undefined];
  #ids: Record<string, string> | undefined;
  /** As read, parsed when a hit declares ids (a string: a Buffer of the reply would keep the client's whole read buffer alive). */
  readonly #idsRaw: string | null;
  #changed = false;
  #idsChanged = false;
  #vnChanged = false;
  /** maxDuration of the visit this state started since it was last written (0: none started). */
  #startedVisitSpan = 0;
  /** Copies of excluded-hit fields to write (a time) or remove (null); created when needed (a Map is ~190 B, and most states never need one). */
  #copies: Map<string, number | null> | undefined;

  constructor(key: string, [state, legacyVersion, ids]: LoadedVisitor = [null, null, null]) {
    this.key = key;
    const prefix = state === null ? undefined : versionPrefix(state);
    this.#legacyVersion = prefix === undefined && legacyVersion !== null;
    this.#version = prefix?.version ?? (Number(legacyVersion?.toString('latin1')) || 0);
    this.#present = state !== null;
    if (state !== null) {
      const stored = decode<unknown>(prefix === undefined ? state : state.subarray(prefix.at));
      if (Array.isArray(stored)) {
        this.#vn = numberOf(stored[0]);
        this.#recent = recentOf(stored[1]);
        this.#visits[0] = visitOf(stored[2]);
        this.#visits[1] = visitOf(stored[3]);
      }
    }
    this.#idsRaw = ids === null ? null : ids.toString('utf8');
  }

  get version(): number {
    return this.#version;
  }

  /** Applies one hit; arms its visit's timers in `arms`. */
  apply(hit: HitEffect, arms: TimerArms): void {
    this.#present = true;
    if (this.#isDuplicate(hit.hash)) return;
    this.#changed = true;
    const received = hit.receivedAt;
    const ts = hit.ts;
    const vn = this.#currentVisit(hit);
    const visit = this.#visits[visitIndex(vn)] as Visit;
    const hits = ++visit.h;
    if (received < visit.s) visit.s = received;
    if (received > visit.l) visit.l = received;
    if (ts < visit.f) visit.f = ts;
    if (ts > visit.t) visit.t = ts;
    if (hits > hit.visit.botRule.hits && received - visit.s <= hit.visit.botRule.within) visit.bot = 1;
    if (hit.aliases) this.#declare(hit.aliases);
    if (hit.cart) applyCart(visit, hit.cart);
    if (hit.counts) for (let i = 0; i + 1 < hit.counts.length; i += 2) addCount(visit, hit.counts[i] as string, hit.counts[i + 1] as number);
    if (hit.matches) {
      for (const m of hit.matches) {
        const trigger = triggerVisit(visit, m.slot);
        for (const c of m.include) keepEarliest(trigger, c, ts);
        if (m.excluded && !(trigger.excluded !== 0 && trigger.excluded <= ts)) {
          trigger.excluded = ts;
          (this.#copies ??= new Map()).set(excludedField(parity(vn), m.slot), ts);
        }
        if (m.metadata) mergeMetadata(trigger, m.metadata);
        if (m.include.length === 0) continue;
        if (m.rearmed) {
          if (isArmed(visit.armed, m.slot, m.delayMs)) continue;
          visit.armed = appended(visit.armed, m.slot, m.delayMs);
        }
        const member = `${m.slot}|${vn}|${hit.visitorId}`;
        if (!arms.has(member)) arms.set(member, received + m.delayMs);
      }
    }
  }

  /** The state and fields to write, with the next version; undefined when nothing changed. */
  write(visitorTtlMs: number): VisitorWrite | undefined {
    const write = newStateWrite();
    if (!this.writeTo(ownStateWriter, visitorTtlMs, write)) return undefined;
    return { state: ownStateWriter.take(), set: write.set, remove: write.remove, expireMs: write.expireMs };
  }

  /** As write(), the state written into `out` after what it holds and the rest into `write`; false when nothing changed. */
  writeTo(out: PackWriter, visitorTtlMs: number, write: StateWrite): boolean {
    if (!this.#changed || !this.#present) return false;
    // Written by index, never emptied: V8 frees an array's storage when its length is set to 0.
    const set = write.set;
    const remove = write.remove;
    let n = 0;
    let m = 0;
    if (this.#legacyVersion) remove[m++] = 'v';
    if (this.#vnChanged) {
      set[n++] = 'vn';
      set[n++] = String(this.#vn);
    }
    if (this.#idsChanged) {
      set[n++] = 'ids';
      set[n++] = JSON.stringify(this.#ids);
    }
    if (this.#copies) {
      for (const [field, value] of this.#copies) {
        if (value === null) remove[m++] = field;
        else {
          set[n++] = field;
          set[n++] = String(value);
        }
      }
    }
    if (set.length !== n) set.length = n;
    if (remove.length !== m) remove.length = m;
    write.expireMs = this.#startedVisitSpan > 0 ? visitorTtlMs + this.#startedVisitSpan : 0;
    const start = out.length;
    out.number(this.#version + 1);
    out.array(4);
    out.number(this.#vn);
    out.numbers(this.#recent);
    packVisit(out, this.#visits[0]);
    packVisit(out, this.#visits[1]);
    write.stateLength = out.length - start;
    return true;
  }

  /** The write() went through: this state is now what Redis holds, at the next version. */
  committed(): void {
    if (!this.#changed) return;
    this.#version++;
    this.#legacyVersion = false;
    this.#changed = this.#idsChanged = this.#vnChanged = false;
    this.#startedVisitSpan = 0;
    this.#copies = undefined;
  }

  /** Whether the hash is among the recent ones; if not, it becomes the newest (in place: no allocation per hit). */
  #isDuplicate(hash: number): boolean {
    const dd = this.#recent;
    for (let i = 0; i < dd.length; i++) if (dd[i] === hash) return true;
    if (dd.length < recentHashes) dd.push(hash);
    else {
      dd.copyWithin(0, 1); // never more than recentHashes: what is written and the older text alike
      dd[recentHashes - 1] = hash;
    }
    return false;
  }

  /** The visit the hit belongs to: the current one, or a new one when it ended (inactivity, length, hits). */
  #currentVisit(hit: HitEffect): number {
    let vn = this.#vn;
    if (vn > 0) {
      const visit = this.#visits[visitIndex(vn)];
      const { inactivity, maxDuration, maxHits } = hit.visit;
      if (visit !== undefined && hit.receivedAt - visit.l <= inactivity && hit.receivedAt - visit.s <= maxDuration && visit.h < maxHits) return vn;
    }
    vn++;
    // The visit before the last gives way, with the copies of its excluded hits.
    const gone = this.#visits[visitIndex(vn)];
    if (gone !== undefined) {
      const triggers = gone.triggers;
      for (let i = 0; i + 1 < triggers.length; i += 2) {
        if ((triggers[i + 1] as TriggerVisit).excluded !== 0) (this.#copies ??= new Map()).set(excludedField(parity(vn), triggers[i] as number), null);
      }
    }
    this.#visits[visitIndex(vn)] = newVisit(hit.receivedAt, hit.receivedAt, hit.ts, hit.ts, 0, 0, none, none, none, none);
    this.#vn = vn;
    this.#vnChanged = true;
    this.#startedVisitSpan = Math.max(this.#startedVisitSpan, hit.visit.maxDuration);
    return vn;
  }

  #declare(aliases: Record<string, string>): void {
    const ids = (this.#ids ??= parseIds(this.#idsRaw));
    for (const name in aliases) {
      if (ids[name] === aliases[name]) continue;
      ids[name] = retained(aliases[name] as string);
      this.#idsChanged = true;
    }
  }
}

/**
 * `list` with `values` appended, in a new array of exactly that length. A state stays cached for
 * as long as its visitor is active, and push would leave each of its lists ~140 B of spare
 * capacity (V8 grows a backing store by half plus 16 elements): half of a cached state's heap.
 * Lists grow seldom (a new product, trigger, metric or metadata value), so the copy costs little.
 */
function appended<T>(list: readonly T[], ...values: T[]): T[] {
  return list.concat(values);
}

/**
 * Strings the state keeps from hits (metadata values, product fields, declared ids), shared and
 * flat. A string msgpackr decodes is often a slice of one string extracted from the whole entry,
 * which it would keep alive for as long as the state is cached; and many visitors keep the same
 * values. Bounded: cleared when full (strings already kept stay valid).
 */
const retainedStrings = new Map<string, string>();
const retainedBound = 20_000;

/**
 * A copy of `value` that keeps no larger string alive: a slice of a new string one character
 * longer, which V8 flattens first (a string msgpackr decoded may be a slice of its whole entry).
 */
export const ownCopy = (value: string): string => (' ' + value).slice(1);

function retained<T extends DimValue>(value: T): T {
  if (typeof value !== 'string') return value;
  let kept = retainedStrings.get(value);
  if (kept === undefined) {
    if (retainedStrings.size >= retainedBound) retainedStrings.clear();
    kept = ownCopy(value);
    retainedStrings.set(kept, kept);
  }
  return kept as T;
}

/** The visit's state of trigger `slot`, created when missing. */
function triggerVisit(visit: Visit, slot: number): TriggerVisit {
  const triggers = visit.triggers;
  for (let i = 0; i + 1 < triggers.length; i += 2) if (triggers[i] === slot) return triggers[i + 1] as TriggerVisit;
  const created = newTriggerVisit(none, 0, none, 0);
  visit.triggers = appended(triggers, slot, created);
  return created;
}

/** Keeps the earliest time at which the trigger's include container `container` was satisfied. */
function keepEarliest(trigger: TriggerVisit, container: number, time: number): void {
  const list = trigger.include;
  for (let i = 0; i + 1 < list.length; i += 2) {
    if (list[i] !== container) continue;
    if (time < (list[i + 1] as number)) list[i + 1] = time;
    return;
  }
  trigger.include = appended(list, container, time);
}

function addCount(visit: Visit, metric: string, n: number): void {
  const counts = visit.counts;
  for (let i = 0; i + 1 < counts.length; i += 2) {
    if (counts[i] !== metric) continue;
    counts[i + 1] = (counts[i + 1] as number) + n;
    return;
  }
  visit.counts = appended(counts, metric, n);
}

function isArmed(armed: readonly number[], slot: number, delayMs: number): boolean {
  for (let i = 0; i + 1 < armed.length; i += 2) if (armed[i] === slot && armed[i + 1] === delayMs) return true;
  return false;
}

/** The trigger's metadata [name, [values], …] merged with the hit's (same shape): values de-duplicated, at most `metadataBound` per name. */
function mergeMetadata(trigger: TriggerVisit, add: Metadata): void {
  for (let a = 0; a + 1 < add.length; a += 2) {
    const name = add[a] as string;
    const have = trigger.metadata;
    let at = -1;
    for (let i = 0; i + 1 < have.length; i += 2) if (have[i] === name) at = i + 1;
    if (at === -1) {
      at = have.length + 1;
      trigger.metadata = appended(have, name, []);
    }
    const metadata = trigger.metadata;
    for (const value of add[a + 1] as DimValue[]) {
      const list = metadata[at] as DimValue[];
      if (list.length < metadataBound && !list.includes(value)) metadata[at] = appended(list, retained(value));
    }
  }
}

/**
 * The cart as products added minus removed. The signed sum is kept even at zero or below (a
 * remove applied before its add must still cancel it); the trigger message lists only the
 * products whose quantity is above zero.
 */
function applyCart(visit: Visit, lines: readonly CartLine[]): void {
  for (const [sku, delta, price, name, category] of lines) {
    let item = visit.cart.find((entry) => entry[0] === sku);
    if (item === undefined) {
      item = [retained(sku), 0, false, false, false];
      visit.cart = appended(visit.cart, item);
    }
    item[1] += delta;
    if (price !== undefined && item[2] !== price) item[2] = price;
    if (name !== undefined && item[3] !== name) item[3] = retained(name);
    if (category !== undefined && item[4] !== category) item[4] = retained(category);
  }
}

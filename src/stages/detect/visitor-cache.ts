// The detect process's visitor states between batches, and what it knows of their freshness, so
// that a batch's write need not compare every state's version in Redis (one HGET per visitor,
// about a third of Redis's work per hit).
//
// Every detect write to a partition's visitor states (lua/detect-apply.lua, lua/detect-fire.lua)
// leaves its token, unique to the process and the write, in keys.visitorsWritten. When the token
// a process wrote last is still there, nobody else wrote a state of the partition since: every
// state it cached since is still what Redis holds, unless the key expired. When it is not there
// (another process, or a crash that rolled Redis back), the script compares every state's version
// as before, and the partition's generation moves on: states cached before are compared at their
// next write, one by one, until written again.
//
// The batches and the timer decisions of a partition run one at a time in the process
// (`exclusive`): a decision that fires a visit drops its cached state before the next batch of
// the partition is built.
import { randomBytes } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import { ownCopy, type VisitorState } from './visitor-state.js';

/** A cached state and what the process knows of it. */
export interface CachedVisitor {
  state: VisitorState;
  /** The partition's generation when the state was last read, or written with its version compared. */
  generation: number;
  /** Until when (ms, process clock) the visitor's key cannot have expired. */
  trustedUntil: number;
}

/** The shortest time to live a click can give the key at any time (detect.visitorTtl, src/ingest/links.ts). */
const SHORTEST_TTL_MS = 86_400_000;
/** Kept before the key could expire: a write runs a while after its batch was built (retries, a slow Redis). */
const EXPIRY_MARGIN_MS = 60_000;

/**
 * Until when a key whose time to live was `ttlMs` (PTTL: -1 none, -2 no key) at `at`, or was set
 * to it at `at`, cannot have expired: a click may lower it to at least a day from its own time.
 */
export function trustedUntil(at: number, ttlMs: number): number {
  const byClick = at + SHORTEST_TTL_MS;
  return (ttlMs >= 0 ? Math.min(at + ttlMs, byClick) : byClick) - EXPIRY_MARGIN_MS;
}

interface PartitionTrust {
  /** The token this process wrote last, '' before its first write or after a write it cannot place. */
  expected: string;
  generation: number;
  /** The partition's batch or timer decision running now. */
  running: Promise<unknown>;
}

export class VisitorCache {
  readonly #states: LRUCache<string, CachedVisitor>;
  readonly #partitions = new Map<number, PartitionTrust>();
  readonly #process = randomBytes(8).toString('base64url');
  #writes = 0;

  constructor(size: number) {
    this.#states = new LRUCache({ max: size });
  }

  get(visitorId: string): CachedVisitor | undefined {
    return this.#states.get(visitorId);
  }

  delete(visitorId: string): void {
    this.#states.delete(visitorId);
  }

  /** A token for a write: unique to this process and write. */
  token(): string {
    return `${this.#process}.${(++this.#writes).toString(36)}`;
  }

  /** The token this process expects in the partition's keys.visitorsWritten ('' for none). */
  expected(partition: number): string {
    return this.#trust(partition).expected;
  }

  /** Caches a state just read (its key's time to live `ttlMs` at `at`, PTTL's answer): vouched for until it could expire. */
  loaded(partition: number, visitorId: string, state: VisitorState, at: number, ttlMs: number): CachedVisitor {
    const entry: CachedVisitor = { state, generation: this.#trust(partition).generation, trustedUntil: trustedUntil(at, ttlMs) };
    this.#states.set(ownCopy(visitorId), entry); // the id decoded from a hit may be a slice of its whole entry
    return entry;
  }

  /**
   * A written state is what Redis holds now, compared or vouched for: trusted in the partition's
   * current generation, until its new time to live (`expireMs` set at `at`) if the write set one.
   */
  vouch(partition: number, entry: CachedVisitor, at: number, expireMs: number): void {
    entry.generation = this.#trust(partition).generation;
    if (expireMs > 0) entry.trustedUntil = trustedUntil(at, expireMs);
  }

  /** Whether a cached state may be written without comparing its version (when the expected token is found). */
  trusted(partition: number, entry: CachedVisitor, now: number): boolean {
    return entry.generation === this.#trust(partition).generation && now < entry.trustedUntil;
  }

  /** A write carrying `token` went through; `trusted`: it found the expected token. */
  wrote(partition: number, token: string, trusted: boolean): void {
    const trust = this.#trust(partition);
    trust.expected = token;
    if (!trusted) trust.generation++;
  }

  /** Runs `work` after the partition's batch or decision running now, if any. */
  exclusive<T>(partition: number, work: () => Promise<T>): Promise<T> {
    const trust = this.#trust(partition);
    const run = trust.running.then(work);
    trust.running = run.catch(() => undefined);
    return run;
  }

  #trust(partition: number): PartitionTrust {
    let trust = this.#partitions.get(partition);
    if (trust === undefined) {
      trust = { expected: '', generation: 0, running: Promise.resolve() };
      this.#partitions.set(partition, trust);
    }
    return trust;
  }
}

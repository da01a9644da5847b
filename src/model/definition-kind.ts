// What a definition kind is (see kinds.ts for the registry): validation, what the admin API
// shows, and the plan of a change (its outcome and its writes on keys under the `{defs}` hash
// tag) that src/admin/apply.ts commits for a whole bundle in one Lua script; a plan throws when
// what is stored forbids the change. `documentKind` builds the common case: a kind stored as the
// document itself in one hash.
import type { RedisPort } from '../core/redis/client.js';
import type { Keys } from '../core/redis/keys.js';

export interface DefinitionContext {
  redis: RedisPort;
  keys: Keys;
  now: number;
  /** `campaign.smsMaxSegments`: an sms template rendering longer is not published. */
  smsMaxSegments?: number;
  /** The definitions of the bundle being applied (`bundleKey(kind, id)`), when planning one. */
  bundle?: ReadonlySet<string>;
}

export const bundleKey = (kind: string, id: string): string => `${kind}\u0000${id}`;

/** One write of an apply, on a key under the `{defs}` hash tag. */
export type DefinitionWrite =
  | { op: 'hset'; key: string; field: string; value: string }
  | { op: 'hdel'; key: string; field: string }
  | { op: 'set'; key: string; value: string }
  | { op: 'del'; key: string };

export type Outcome = 'created' | 'changed' | 'unchanged';

export interface PlannedChange {
  outcome: Outcome;
  /** The writes (none when unchanged); identity counters are only taken when committing. */
  writes: DefinitionWrite[];
}

export interface DefinitionKind {
  /** The `kind:` of a YAML document (`Trigger`). */
  readonly kind: string;
  /** The admin API collection (`triggers` → /admin/triggers/{id}). */
  readonly resource: string;
  /** Validates a document; throws a ReboundError listing every problem ("  path: message" lines). */
  validate(document: unknown, origin: string): unknown;
  /** The ids stored (what `--prune` compares the bundle with). */
  ids(ctx: DefinitionContext): Promise<string[]>;
  /** What the admin API shows of one definition; undefined when there is none. */
  show(ctx: DefinitionContext, id: string): Promise<unknown>;
  /** What the admin API shows of every definition of the kind, by id. */
  showAll(ctx: DefinitionContext): Promise<unknown[]>;
  /**
   * The change a valid document makes over what is stored. Throws a ReboundError (one
   * "  path: message" line per problem) when what is stored forbids it (an immutable field).
   */
  plan(ctx: DefinitionContext, id: string, document: unknown, commit: boolean): Promise<PlannedChange>;
  /** The writes that delete a definition; undefined when there is none; throws when a rule forbids it. */
  planDelete(ctx: DefinitionContext, id: string): Promise<DefinitionWrite[] | undefined>;
}

/** JSON with object keys sorted, so that two equal definitions compare equal as text. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v !== null && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) : v,
  );
}

/** The validated form of a stored document, or undefined when it no longer validates. */
export function validatedOrUndefined(kind: Pick<DefinitionKind, 'validate'>, document: unknown): unknown {
  try {
    return kind.validate(document, 'stored');
  } catch {
    return undefined;
  }
}

export function safeJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

export interface HashKindSpec {
  kind: string;
  resource: string;
  validate(document: unknown, origin: string): unknown;
}

/**
 * A kind stored as the document itself (JSON) in `keys.definitions(resource)`: sources, and
 * any kind without identity or lifecycle of its own.
 */
export function documentKind(spec: HashKindSpec): DefinitionKind {
  const hash = (keys: Keys): string => keys.definitions(spec.resource);
  const read = async ({ redis, keys }: DefinitionContext, id: string): Promise<string | undefined> => (await redis.hget(hash(keys), id)) ?? undefined;
  return {
    ...spec,
    ids: async ({ redis, keys }) => Object.keys(await redis.hgetall(hash(keys))),
    show: async (ctx, id) => {
      const stored = await read(ctx, id);
      return stored === undefined ? undefined : safeJson(stored);
    },
    showAll: async ({ redis, keys }) => sortedById(Object.entries(await redis.hgetall(hash(keys)))).map(([, stored]) => safeJson(stored)),
    async plan(ctx, id, document) {
      const previous = await read(ctx, id);
      const next = canonicalJson(spec.validate(document, `${spec.kind} ${id}`));
      const before = previous === undefined ? undefined : validatedOrUndefined(spec, safeJson(previous));
      if (before !== undefined && canonicalJson(before) === next) return { outcome: 'unchanged', writes: [] };
      return { outcome: previous === undefined ? 'created' : 'changed', writes: [{ op: 'hset', key: hash(ctx.keys), field: id, value: JSON.stringify(document) }] };
    },
    planDelete: async (ctx, id) => ((await read(ctx, id)) === undefined ? undefined : [{ op: 'hdel', key: hash(ctx.keys), field: id }]),
  };
}

/** Entries ordered by id (code unit order, as the API lists them). */
export function sortedById<T>(entries: Array<[string, T]>): Array<[string, T]> {
  return entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

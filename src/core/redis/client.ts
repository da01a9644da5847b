// The narrow Redis port: the few commands Rebound uses, with typed results, for a single node
// and for Redis Cluster alike. ioredis stays behind this file; callers see plain data.
// No offline queue: while Redis is unreachable every command fails at once (REDIS_UNAVAILABLE)
// so that ingest answers 503 and stages back off, instead of growing a hidden buffer.
import { Cluster, Redis, type RedisOptions } from 'ioredis';
import { ReboundError } from '../errors.js';
import { LuaScript } from './packed-script.js';
import { toReboundError } from './reply-errors.js';
import { scripts, type ScriptName } from './scripts.js';

export interface StreamEntry {
  id: string;
  /** The entry's `d` field (Rebound writes one binary field per entry); undefined when absent. */
  data: Buffer | undefined;
}

/** A stream entry with its other fields as text (dead letters carry id, group, error, …). */
export interface StreamRecord extends StreamEntry {
  fields: Record<string, string>;
}

export interface PendingEntry {
  id: string;
  consumer: string;
  idleMs: number;
  deliveries: number;
}

export interface GroupInfo {
  name: string;
  consumers: number;
  pending: number;
  lastDeliveredId: string;
  /** Entries not yet delivered to the group (Redis 7 `lag`); null when Redis cannot tell. */
  lag: number | null;
}

export interface RedisTarget {
  url?: string | null;
  cluster?: readonly string[];
}

/** A pub/sub listener started by `RedisPort.subscribe`. */
export interface Subscription {
  close(): Promise<void>;
}

export interface ConnectOptions {
  connectTimeoutMs: number;
  /** Shown in CLIENT LIST. */
  name: string;
}

type Client = Redis | Cluster;
/** ioredis's named commands, called untyped: their overloads do not fit argument lists built at run time. */
type Untyped = Record<string, (...args: Array<string | number | Buffer>) => Promise<unknown>>;
type ScriptArg = string | Buffer | number;
type Raw = unknown;

const luaScripts = new Map(Object.entries(scripts).map(([name, lua]) => [name, new LuaScript(lua)]));

export class RedisPort {
  readonly mode: 'standalone' | 'cluster';
  readonly #client: Client;
  /** A single node without auto-pipelining (duplicate()): script calls are written as buffers built here (packed-script.ts). */
  readonly #packed: Redis | undefined;
  #lastReplyAt = 0;

  constructor(client: Client) {
    this.#client = client;
    this.mode = client instanceof Cluster ? 'cluster' : 'standalone';
    this.#packed = client instanceof Redis && client.options.enableAutoPipelining === false ? client : undefined;
    for (const [name, lua] of Object.entries(scripts)) client.defineCommand(name, { lua });
  }

  /** 'ready' while commands can be sent; anything else means they fail with REDIS_UNAVAILABLE. */
  get status(): string {
    return this.#client.status;
  }

  /**
   * Named commands only: ioredis's `call`/`callBuffer` lose the command name under auto-pipelining.
   */
  #command(name: string, ...args: Array<string | number | Buffer>): Promise<unknown> {
    return (this.#client as unknown as Untyped)[name]!(...args);
  }

  /** Epoch ms of the last command that succeeded (`/status`: last Redis contact); 0 before any. */
  get lastReplyAt(): number {
    return this.#lastReplyAt;
  }

  async #run<T>(operation: () => Promise<T>): Promise<T> {
    try {
      const result = await operation();
      this.#lastReplyAt = Date.now();
      return result;
    } catch (err) {
      throw toReboundError(err);
    }
  }

  ping(): Promise<void> {
    return this.#run(async () => {
      if (this.#client instanceof Cluster) await Promise.all(this.#client.nodes('master').map((node) => node.ping()));
      else await this.#client.ping();
    });
  }

  xadd(key: string, data: Buffer): Promise<string> {
    return this.#run(async () => (await this.#client.xadd(key, '*', 'd', data)) as string);
  }

  /** Appends entries to several streams at once (pipelined per node); resolves with their ids. */
  xaddMany(appends: ReadonlyArray<{ key: string; data: Buffer }>): Promise<string[]> {
    return this.#run(() => Promise.all(appends.map(({ key, data }) => this.#client.xadd(key, '*', 'd', data) as Promise<string>)));
  }

  /** Creates a consumer group (and the stream); false when it exists already. */
  async xgroupCreate(key: string, group: string, startId = '0'): Promise<boolean> {
    return Number(await this.script('reboundGroupCreate', [key], [group, startId])) === 1;
  }

  /** Removes a consumer group; false when the stream or the group did not exist. */
  async xgroupDestroy(key: string, group: string): Promise<boolean> {
    return Number(await this.script('reboundGroupDestroy', [key], [group])) === 1;
  }

  /** XREADGROUP on one stream: `>` for new entries, `0` for this consumer's pending ones. */
  xreadgroup(key: string, group: string, consumer: string, id: string, count: number): Promise<StreamEntry[]> {
    return this.#run(async () => {
      const reply = (await this.#command('xreadgroupBuffer', 'GROUP', group, consumer, 'COUNT', count, 'STREAMS', key, id)) as Raw;
      if (!Array.isArray(reply) || reply.length === 0) return [];
      return parseEntries((reply[0] as Raw[])[1]);
    });
  }

  xpendingIdle(key: string, group: string, minIdleMs: number, count: number): Promise<PendingEntry[]> {
    return this.#run(async () => {
      const reply = (await this.#command('xpending', key, group, 'IDLE', minIdleMs, '-', '+', count)) as Raw[];
      return reply.map((row) => {
        const [id, consumer, idle, deliveries] = row as [string, string, number, number];
        return { id, consumer, idleMs: Number(idle), deliveries: Number(deliveries) };
      });
    });
  }

  /** Takes over entries idle for at least minIdleMs; entries deleted meanwhile are not returned. */
  xclaim(key: string, group: string, consumer: string, minIdleMs: number, ids: readonly string[]): Promise<StreamEntry[]> {
    if (ids.length === 0) return Promise.resolve([]);
    return this.#run(async () => parseEntries(await this.#command('xclaimBuffer', key, group, consumer, minIdleMs, ...ids)));
  }

  xrange(key: string, start = '-', end = '+', count?: number): Promise<StreamEntry[]> {
    const extra = count === undefined ? [] : ['COUNT', count];
    return this.#run(async () => parseEntries(await this.#command('xrangeBuffer', key, start, end, ...extra)));
  }

  xrangeRecords(key: string, start = '-', end = '+', count = 1000): Promise<StreamRecord[]> {
    return this.#run(async () => {
      const raw = (await this.#command('xrangeBuffer', key, start, end, 'COUNT', count)) as Array<[Buffer, Buffer[]]>;
      return raw.map(([id, flat]) => {
        const fields: Record<string, string> = {};
        let data: Buffer | undefined;
        for (let i = 0; i + 1 < flat.length; i += 2) {
          const name = String(flat[i]);
          if (name === 'd') data = flat[i + 1];
          else fields[name] = String(flat[i + 1]);
        }
        return { id: String(id), data, fields };
      });
    });
  }

  /** Removes entries older than `minId` (approximately: whole nodes only, never newer ones). */
  xtrimMinId(key: string, minId: string): Promise<number> {
    return this.#run(async () => Number(await this.#command('xtrim', key, 'MINID', '~', minId)));
  }

  xlen(key: string): Promise<number> {
    return this.#run(() => this.#client.xlen(key));
  }

  async xinfoGroups(key: string): Promise<GroupInfo[]> {
    const reply = (await this.script('reboundGroupsInfo', [key], [])) as Raw[];
    return reply.map((row) => {
      const info = pairs(row as Raw[]);
      return {
        name: String(info.name),
        consumers: Number(info.consumers),
        pending: Number(info.pending),
        lastDeliveredId: String(info['last-delivered-id']),
        lag: info.lag === null || info.lag === undefined ? null : Number(info.lag),
      };
    });
  }

  /** Oldest pending entry of a group and its idle time, or null when nothing is pending. */
  oldestPending(key: string, group: string): Promise<PendingEntry | null> {
    return this.#run(async () => (await this.xpendingIdle(key, group, 0, 1))[0] ?? null);
  }

  /** Runs one of the Lua scripts of ./lua (EVALSHA with a NOSCRIPT fallback). */
  script(name: ScriptName, keys: readonly string[], args: readonly ScriptArg[]): Promise<unknown> {
    const packed = this.#packed;
    if (packed) return this.#run(() => luaScripts.get(name)!.run(packed, keys, args, 'utf8'));
    return this.#run(() => (this.#client as unknown as Record<string, (...a: ScriptArg[]) => Promise<unknown>>)[name]!(keys.length, ...keys, ...args));
  }

  /** Like script(), with binary-safe replies: bulk strings come back as Buffers. */
  scriptBuffer(name: ScriptName, keys: readonly string[], args: readonly ScriptArg[]): Promise<unknown> {
    const packed = this.#packed;
    if (packed) return this.#run(() => luaScripts.get(name)!.run(packed, keys, args, null));
    return this.#run(() => (this.#client as unknown as Record<string, (...a: ScriptArg[]) => Promise<unknown>>)[`${name}Buffer`]!(keys.length, ...keys, ...args));
  }

  /** SET with a time to live in milliseconds. */
  setWithTtl(key: string, value: string, ttlMs: number): Promise<void> {
    return this.#run(async () => void (await this.#client.set(key, value, 'PX', ttlMs)));
  }

  /** Members of a sorted set scored at most `max`, lowest first, with their scores. */
  zrangeDue(key: string, max: number, limit: number): Promise<Array<{ member: string; score: number }>> {
    return this.#run(async () => {
      const flat = (await this.#client.zrangebyscore(key, '-inf', max, 'WITHSCORES', 'LIMIT', 0, limit)) as string[];
      const due: Array<{ member: string; score: number }> = [];
      for (let i = 0; i + 1 < flat.length; i += 2) due.push({ member: flat[i] as string, score: Number(flat[i + 1]) });
      return due;
    });
  }

  zrem(key: string, member: string): Promise<void> {
    return this.#run(async () => void (await this.#client.zrem(key, member)));
  }

  zcard(key: string): Promise<number> {
    return this.#run(() => this.#client.zcard(key));
  }

  hget(key: string, field: string): Promise<string | null> {
    return this.#run(() => this.#client.hget(key, field));
  }

  hmget(key: string, fields: readonly string[]): Promise<Array<string | null>> {
    return this.#run(() => this.#client.hmget(key, ...fields));
  }

  /** Members of a sorted set by rank from the highest score (ZREVRANGE … WITHSCORES), ranks start…stop inclusive. */
  zrevrangeWithScores(key: string, start: number, stop: number): Promise<Array<{ member: string; score: number }>> {
    return this.#run(async () => {
      const flat = await this.#client.zrevrange(key, start, stop, 'WITHSCORES');
      const members: Array<{ member: string; score: number }> = [];
      for (let i = 0; i + 1 < flat.length; i += 2) members.push({ member: flat[i] as string, score: Number(flat[i + 1]) });
      return members;
    });
  }

  /** ZADD then PEXPIRE of the key (an index that lives as long as its newest member). */
  zaddExpiring(key: string, score: number, member: string, ttlMs: number): Promise<void> {
    return this.#run(async () => {
      await Promise.all([this.#client.zadd(key, score, member), this.#client.pexpire(key, ttlMs)]);
    });
  }

  hmgetBuffer(key: string, fields: readonly string[]): Promise<Array<Buffer | null>> {
    return this.#run(() => this.#client.hmgetBuffer(key, ...fields));
  }

  get(key: string): Promise<string | null> {
    return this.#run(() => this.#client.get(key));
  }

  /** Values of many keys in order (null where absent): one MGET on a single node, one GET per key on a cluster (keys of any slots). */
  mget(keys: readonly string[]): Promise<Array<string | null>> {
    if (keys.length === 0) return Promise.resolve([]);
    const client = this.#client;
    return this.#run(() => (client instanceof Cluster ? Promise.all(keys.map((key) => client.get(key))) : client.mget(...keys)));
  }

  hgetall(key: string): Promise<Record<string, string>> {
    return this.#run(() => this.#client.hgetall(key));
  }

  hset(key: string, field: string, value: string): Promise<void> {
    return this.#run(async () => {
      await this.#client.hset(key, field, value);
    });
  }

  /** HSET then PEXPIRE of the key (a field added to a hash that expires, such as a visitor's state). */
  hsetExpiring(key: string, field: string, value: string, ttlMs: number): Promise<void> {
    return this.#run(async () => {
      await Promise.all([this.#client.hset(key, field, value), this.#client.pexpire(key, ttlMs)]);
    });
  }

  /** HSETNX: sets the field only when absent; resolves true when this call set it. */
  hsetnx(key: string, field: string, value: string): Promise<boolean> {
    return this.#run(async () => (await this.#client.hsetnx(key, field, value)) === 1);
  }

  /** Resolves true when the field existed. */
  hdel(key: string, field: string): Promise<boolean> {
    return this.#run(async () => (await this.#client.hdel(key, field)) === 1);
  }

  incr(key: string): Promise<number> {
    return this.#run(() => this.#client.incr(key));
  }

  /** SET NX; resolves with the value that is stored afterwards (ours or the existing one). */
  setIfAbsent(key: string, value: string): Promise<string> {
    return this.#run(async () => {
      const ok = await this.#client.set(key, value, 'NX');
      return ok === 'OK' ? value : ((await this.#client.get(key)) ?? value);
    });
  }

  // --- datamart: strings, sets, pub/sub (profiles, resource rows, indexes, suppressions) ---

  set(key: string, value: string): Promise<void> {
    return this.#run(async () => void (await this.#client.set(key, value)));
  }

  /** Deletes one key (one slot per call on a cluster); resolves true when it existed. */
  del(key: string): Promise<boolean> {
    return this.#run(async () => (await this.#client.del(key)) === 1);
  }

  sadd(key: string, members: readonly string[]): Promise<number> {
    return members.length === 0 ? Promise.resolve(0) : this.#run(() => this.#client.sadd(key, ...members));
  }

  srem(key: string, members: readonly string[]): Promise<number> {
    return members.length === 0 ? Promise.resolve(0) : this.#run(() => this.#client.srem(key, ...members));
  }

  smembers(key: string): Promise<string[]> {
    return this.#run(() => this.#client.smembers(key));
  }

  /** For each member, whether it is in the set (SMISMEMBER, Redis ≥ 6.2). */
  smismember(key: string, members: readonly string[]): Promise<boolean[]> {
    if (members.length === 0) return Promise.resolve([]);
    return this.#run(async () => (await this.#client.smismember(key, ...members)).map((n) => n === 1));
  }

  /** One SSCAN step; cursor '0' starts and, when returned, ends the scan. */
  sscan(key: string, cursor: string, count: number): Promise<{ cursor: string; members: string[] }> {
    return this.#run(async () => {
      const [next, members] = await this.#client.sscan(key, cursor, 'COUNT', count);
      return { cursor: next, members };
    });
  }

  /** Resolves with the number of subscribers that received it (on a cluster: of the node it reached). */
  publish(channel: string, message: string): Promise<number> {
    return this.#run(() => this.#client.publish(channel, message));
  }

  /**
   * Listens to one pub/sub channel on a connection of its own. Messages published while it is
   * disconnected are lost, so `onSubscribed` runs after the first subscription and after every
   * re-subscription (confirmed by Redis): callers drop what they may have missed. On a cluster it
   * listens on one master (PUBLISH reaches every node) and moves on when that one stays away.
   */
  subscribe(channel: string, onMessage: (message: string) => void, onSubscribed: () => void): Promise<Subscription> {
    let closed = false;
    let current: Redis | undefined;
    const cluster = this.#client instanceof Cluster ? this.#client : undefined;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        closed = true;
        current?.disconnect();
        reject(new ReboundError('REDIS_UNAVAILABLE', `cannot subscribe to ${channel} within 10000 ms`));
      }, 10_000);
      const subscription: Subscription = {
        close: async () => {
          closed = true;
          clearTimeout(timer);
          current?.disconnect();
        },
      };
      const open = (attempt: number): void => {
        const nodes = cluster ? cluster.nodes('master') : [this.#client as Redis];
        const base = nodes[attempt % Math.max(nodes.length, 1)];
        if (!base) return void setTimeout(() => !closed && open(attempt + 1), 500).unref();
        const retryStrategy = (times: number): number | null => (cluster && times > 5 ? null : reconnect(times));
        const sub = base.duplicate({ lazyConnect: false, autoResubscribe: false, enableOfflineQueue: false, retryStrategy });
        current = sub;
        sub.on('error', () => {});
        // A listener that throws must not take the process down (an EventEmitter would rethrow).
        const safely = (run: () => void): void => {
          try {
            run();
          } catch {
            /* the listener reports its own failures */
          }
        };
        sub.on('message', (from: string, message: string) => from === channel && safely(() => onMessage(message)));
        sub.on('ready', () => {
          sub.subscribe(channel).then(
            () => {
              if (closed) return;
              clearTimeout(timer);
              safely(onSubscribed);
              resolve(subscription);
            },
            () => sub.disconnect(true),
          );
        });
        sub.once('end', () => !closed && open(attempt + 1));
      };
      open(0);
    });
  }

  info(section: string): Promise<string> {
    return this.#run(async () => {
      if (this.#client instanceof Cluster) {
        const nodes = this.#client.nodes('master');
        return (await Promise.all(nodes.map((node) => node.info(section)))).join('\n');
      }
      return this.#client.info(section);
    });
  }

  /** Keys of one pattern on every node (SCAN; for tooling and tests, never on a hot path). */
  async scanKeys(pattern: string, type?: 'stream' | 'hash' | 'string' | 'zset' | 'set'): Promise<string[]> {
    const typeArgs = type === undefined ? [] : ['TYPE', type];
    const nodes: Redis[] = this.#client instanceof Cluster ? this.#client.nodes('master') : [this.#client];
    const found = new Set<string>();
    for (const node of nodes) {
      let cursor = '0';
      do {
        const [next, keys] = (await this.#run(() => (node as unknown as Untyped).scan!(cursor, 'MATCH', pattern, 'COUNT', 1000, ...typeArgs))) as [string, string[]];
        cursor = next;
        for (const key of keys) found.add(key);
      } while (cursor !== '0');
    }
    return [...found];
  }

  /**
   * A second connection to the same server(s), named `name` in CLIENT LIST, e.g. for blocking
   * reads. `autoPipelining: false` (single node; a cluster keeps it): every command is written at
   * once. ioredis keeps one auto-pipeline in flight per connection, so a command otherwise waits
   * for the replies of the pipeline before it; a role that sends a few big commands per batch
   * (campaign) would have Redis and the process take turns instead of working at the same time.
   */
  duplicate(name: string, options: { autoPipelining?: boolean } = {}): Promise<RedisPort> {
    const client = this.#client;
    const copy =
      client instanceof Cluster
        ? client.duplicate([], { redisOptions: { ...client.options.redisOptions, connectionName: name } })
        : client.duplicate({ connectionName: name, ...(options.autoPipelining === false ? { enableAutoPipelining: false } : {}) });
    return waitReady(copy, name, 10_000);
  }

  async close(): Promise<void> {
    try {
      await this.#client.quit();
    } catch {
      this.#client.disconnect();
    }
  }
}

function pairs(row: Raw[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (let i = 0; i + 1 < row.length; i += 2) out[String(row[i])] = row[i + 1];
  return out;
}

function parseEntries(raw: Raw): StreamEntry[] {
  if (!Array.isArray(raw)) return [];
  const entries: StreamEntry[] = [];
  for (const item of raw as Raw[]) {
    if (!Array.isArray(item)) continue;
    const [id, fields] = item as [Buffer, Buffer[] | null];
    let data: Buffer | undefined;
    if (Array.isArray(fields)) {
      for (let i = 0; i + 1 < fields.length; i += 2) if (String(fields[i]) === 'd') data = fields[i + 1];
    }
    entries.push({ id: String(id), data });
  }
  return entries;
}

function parseHostPort(seed: string): { host: string; port: number } {
  const at = seed.lastIndexOf(':');
  return { host: seed.slice(0, at), port: Number(seed.slice(at + 1)) };
}

const reconnect = (times: number): number => Math.min(50 * 2 ** Math.min(times, 6), 2000);

function waitReady(client: Client, name: string, timeoutMs: number): Promise<RedisPort> {
  return new Promise((resolve, reject) => {
    let lastError: unknown;
    const onError = (err: unknown): void => {
      lastError = err;
    };
    const timer = setTimeout(() => {
      client.off('ready', onReady);
      client.disconnect();
      const detail = lastError instanceof Error ? `: ${lastError.message}` : '';
      reject(new ReboundError('REDIS_UNAVAILABLE', `cannot reach Redis (${name}) within ${timeoutMs} ms${detail}`, { cause: lastError }));
    }, timeoutMs);
    function onReady(): void {
      clearTimeout(timer);
      resolve(new RedisPort(client));
    }
    // Errors are reported through commands and status; an 'error' listener keeps ioredis from
    // printing "Unhandled error event" on every failed reconnect.
    client.on('error', onError);
    client.once('ready', onReady);
  });
}

/** Connects to a single node (`url`) or a Cluster (`cluster` seeds) and waits until it is ready. */
export function connectRedis(target: RedisTarget, { connectTimeoutMs, name }: ConnectOptions): Promise<RedisPort> {
  const common: RedisOptions = {
    connectionName: name,
    enableOfflineQueue: false,
    // A command in flight when the connection drops fails too (it is not silently held until
    // Redis returns): ingest answers 503 at once, stages back off and retry idempotently.
    maxRetriesPerRequest: 0,
    connectTimeout: Math.min(connectTimeoutMs, 10_000),
    retryStrategy: reconnect,
  };
  if (target.cluster && target.cluster.length > 0) {
    const { retryStrategy: _omit, ...redisOptions } = common;
    const cluster = new Cluster(target.cluster.map(parseHostPort), {
      enableOfflineQueue: false,
      enableAutoPipelining: true,
      // ioredis takes a script's numkeys for its key when auto-pipelining in a cluster.
      autoPipeliningIgnoredCommands: Object.keys(scripts),
      clusterRetryStrategy: reconnect,
      slotsRefreshTimeout: 2000,
      redisOptions: { ...redisOptions, enableOfflineQueue: false } as Omit<RedisOptions, 'enableOfflineQueue'>,
    });
    return waitReady(cluster, name, connectTimeoutMs);
  }
  if (!target.url) throw new ReboundError('REDIS_UNAVAILABLE', 'no Redis URL or cluster seeds given');
  return waitReady(new Redis(target.url, { ...common, enableAutoPipelining: true }), name, connectTimeoutMs);
}

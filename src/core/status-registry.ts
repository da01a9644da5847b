// The live processes of an installation, in one Redis hash (field = instance, value = JSON):
// each process rewrites its entry every few seconds and removes it when it stops, so that
// `rebound status` finds every process's /status. An entry not refreshed for `staleMs` belongs
// to a process that died; readers skip it and `forgetStale` removes it.
import type { Logger } from './log.js';
import type { RedisPort } from './redis/client.js';
import type { Keys } from './redis/keys.js';

export interface ProcessEntry {
  instance: string;
  host: string;
  pid: number;
  roles: string[];
  /** Where this process answers GET /status and GET /metrics. */
  metricsUrl: string;
  startedAt: number;
  /** Epoch ms of the last heartbeat. */
  seenAt: number;
}

/** Heartbeat period; an entry older than three of them is stale. */
export const heartbeatMs = 5000;
export const staleMs = 3 * heartbeatMs;

export class ProcessRegistry {
  readonly #redis: RedisPort;
  readonly #key: string;
  readonly #entry: Omit<ProcessEntry, 'seenAt'>;
  readonly #logger: Logger;
  #timer: NodeJS.Timeout | undefined;

  constructor(redis: RedisPort, keys: Keys, entry: Omit<ProcessEntry, 'seenAt'>, logger: Logger) {
    this.#redis = redis;
    this.#key = keys.processes();
    this.#entry = entry;
    this.#logger = logger;
  }

  async start(): Promise<void> {
    await this.beat();
    this.#timer ??= setInterval(() => void this.beat(), heartbeatMs).unref();
  }

  /** Rewrites this process's entry; a Redis failure is logged and retried at the next beat. */
  async beat(): Promise<void> {
    const entry: ProcessEntry = { ...this.#entry, seenAt: Date.now() };
    await this.#redis.hset(this.#key, entry.instance, JSON.stringify(entry)).catch((err: Error) => {
      this.#logger.debug({ err: err.message }, 'process heartbeat skipped');
    });
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#redis.hdel(this.#key, this.#entry.instance).catch(() => false);
  }
}

function parseEntry(text: string): ProcessEntry | undefined {
  try {
    const entry = JSON.parse(text) as Partial<ProcessEntry>;
    return typeof entry.instance === 'string' && typeof entry.metricsUrl === 'string' && typeof entry.seenAt === 'number' ? (entry as ProcessEntry) : undefined;
  } catch {
    return undefined;
  }
}

/** Every registered process by instance name, `live` when seen within `staleMs`. */
export async function registeredProcesses(redis: RedisPort, keys: Keys, now = Date.now()): Promise<Array<ProcessEntry & { live: boolean }>> {
  const entries = Object.values(await redis.hgetall(keys.processes()))
    .map(parseEntry)
    .filter((entry): entry is ProcessEntry => entry !== undefined);
  return entries.map((entry) => ({ ...entry, live: now - entry.seenAt <= staleMs })).sort((a, b) => a.instance.localeCompare(b.instance));
}

/** Removes the entries of processes not seen for `olderThanMs` (they died without stopping). */
export async function forgetStale(redis: RedisPort, keys: Keys, olderThanMs: number, now = Date.now()): Promise<number> {
  const gone = Object.entries(await redis.hgetall(keys.processes())).filter(([, text]) => {
    const entry = parseEntry(text);
    return entry === undefined || now - entry.seenAt > olderThanMs;
  });
  for (const [instance] of gone) await redis.hdel(keys.processes(), instance);
  return gone.length;
}

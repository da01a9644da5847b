// Redis errors classified in one place, by reply prefix or by connection state, never by
// scattered message matching: the rest of the code asks `redisErrorKind` or gets a ReboundError.
import { ReboundError } from '../errors.js';

export type RedisErrorKind =
  | 'busyGroup'
  | 'noGroup'
  | 'noScript'
  | 'moved'
  | 'unavailable'
  | 'outOfMemory'
  | 'reply';

const replyPrefixes: Record<string, RedisErrorKind> = {
  BUSYGROUP: 'busyGroup',
  NOGROUP: 'noGroup',
  NOSCRIPT: 'noScript',
  MOVED: 'moved',
  ASK: 'moved',
  CLUSTERDOWN: 'unavailable',
  TRYAGAIN: 'unavailable',
  LOADING: 'unavailable',
  MASTERDOWN: 'unavailable',
  READONLY: 'unavailable',
  OOM: 'outOfMemory',
};

export function redisErrorKind(err: unknown): RedisErrorKind {
  if (!(err instanceof Error)) return 'reply';
  // ioredis marks server replies as ReplyError; anything else is the connection's state.
  if (err.name !== 'ReplyError') return 'unavailable';
  const prefix = err.message.split(' ', 1)[0] ?? '';
  return replyPrefixes[prefix] ?? 'reply';
}

/** Turns a Redis failure into the catalog's error: REDIS_UNAVAILABLE (retriable) or REDIS_REPLY_ERROR. */
export function toReboundError(err: unknown): ReboundError {
  if (err instanceof ReboundError) return err;
  const message = err instanceof Error ? err.message : String(err);
  const kind = redisErrorKind(err);
  // Out of memory passes (keys expire, consumers trim): retried like an outage, never dead-lettered.
  const code = kind === 'unavailable' || kind === 'outOfMemory' ? 'REDIS_UNAVAILABLE' : 'REDIS_REPLY_ERROR';
  return new ReboundError(code, `Redis: ${message}`, { cause: err });
}

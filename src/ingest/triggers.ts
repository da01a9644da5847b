// POST /v1/triggers (SPEC §5.1): Adobe trigger messages fed to the campaign side — one message as
// an I/O Events webhook posts it, a webhook batch (array) or a journal page ({events: [...]}).
// All-or-nothing: every message is validated and converted before the first append; the answer
// is 200 only once every append to the visitors' trigger logs has been acknowledged.
import type { Counter } from 'prom-client';
import { ReboundError, isReboundError } from '../core/errors.js';
import { counter } from '../core/metrics.js';
import type { RedisPort } from '../core/redis/client.js';
import type { Keys } from '../core/redis/keys.js';
import { isRecord } from '../model/hit-parse.js';
import { encodeFiredRecord, fromAdobeMessage, parseAdobeMessage, type FiredRecord } from '../model/trigger-message.js';
import { authenticate, parseJson, requireMediaType } from './body.js';
import { errorReply, jsonReply, type HttpHandler, type IngestRequest, type Reply } from './http-types.js';
import type { IngestServer } from './server.js';
import type { SourceRegistry } from './sources.js';

export interface TriggerDeps {
  sources: SourceRegistry;
  redis: RedisPort;
  keys: Keys;
}

/** Adobe I/O Events' own batch bound (adobe-reference §2.8); a journal page is at most 1.5 MB. */
export const triggerBodyBytes = 2 * 1024 * 1024;
export const maxTriggerMessages = 1000;
const jsonTypes = new Set(['application/json', 'text/plain', '']);
const pipelineKey = 'com.adobe.mcloud.pipeline.pipelineMessage';
const maxChallengeLength = 256;

const receivedTotal = counter('rebound_triggers_received_total', 'Trigger messages accepted by POST /v1/triggers and appended to the trigger log, by source.', ['source']);
const receivedChildren = new Map<string, Counter.Internal>();

function countReceived(source: string, n: number): void {
  let child = receivedChildren.get(source);
  if (!child) receivedChildren.set(source, (child = receivedTotal.labels(source)));
  child.inc(n);
}

interface Located {
  raw: unknown;
  index: number;
  at: Array<string | number>;
}

/** A journal entry `{position, event: <webhook message>}` is read as the message it carries. */
function unwrap(raw: unknown, index: number, at: Array<string | number>): Located {
  if (isRecord(raw) && isRecord(raw.event) && !(pipelineKey in raw.event) && isRecord(raw.event.event)) return { raw: raw.event, index, at: [...at, 'event'] };
  return { raw, index, at };
}

/** The messages of a body: one message, an array of them, or `{events: [...]}`. */
function locate(body: unknown): Located[] {
  let list: Located[];
  if (Array.isArray(body)) list = body.map((raw, i) => unwrap(raw, i, [i]));
  else if (!isRecord(body)) throw new ReboundError('INGEST_BODY_MALFORMED', 'expected a trigger message, an array of them or {"events": [...]}');
  else if (!('events' in body)) list = [{ raw: body, index: 0, at: [] }];
  else if (!Array.isArray(body.events)) throw new ReboundError('TRIGGER_MESSAGE_INVALID', 'events must be an array of trigger messages', { path: 'events' });
  else list = body.events.map((raw, i) => unwrap(raw, i, ['events', i]));
  if (list.length === 0) throw new ReboundError('TRIGGER_MESSAGE_INVALID', 'the request holds no trigger message', { path: Array.isArray(body) ? '(top level)' : 'events' });
  if (list.length > maxTriggerMessages) throw new ReboundError('TRIGGER_MESSAGE_INVALID', `${list.length} trigger messages exceed the limit of ${maxTriggerMessages} per request`, { path: Array.isArray(body) ? '(top level)' : 'events' });
  return list;
}

/** Basic auth first, then a `writeKey` body field, then `?writeKey=` (a webhook URL cannot send headers). */
function findSource(deps: TriggerDeps, request: IngestRequest, body: unknown): string {
  const bodyKey = isRecord(body) && typeof body.writeKey === 'string' && body.writeKey !== '' ? body.writeKey : undefined;
  return authenticate(deps.sources, request, bodyKey ?? new URLSearchParams(request.query).get('writeKey')).id;
}

/** Appends one entry per message to its visitor's partition; rejects if any append failed, once all have settled. */
async function append(deps: TriggerDeps, records: readonly FiredRecord[]): Promise<void> {
  const { redis, keys } = deps;
  const outcomes = await Promise.allSettled(records.map((record) => redis.xadd(keys.stream(keys.partitionOf(record.visitorId), 'fired'), encodeFiredRecord(record))));
  const failed = outcomes.find((outcome) => outcome.status === 'rejected');
  if (!failed) return;
  const err: unknown = failed.reason;
  throw isReboundError(err) ? err : new ReboundError('REDIS_UNAVAILABLE', 'trigger log append failed', { cause: err });
}

function receive(deps: TriggerDeps): HttpHandler {
  return async (request) => {
    requireMediaType(request, jsonTypes);
    const body = parseJson(request.body);
    const source = findSource(deps, request, body);
    const records = locate(body).map(({ raw, index, at }) => fromAdobeMessage(parseAdobeMessage(raw, index, at), source));
    await append(deps, records);
    countReceived(source, records.length);
    return jsonReply(200, { success: true, accepted: records.length });
  };
}

/** Adobe I/O Events' registration check: GET ?challenge=… is answered with the challenge (write key required). */
function challenge(deps: TriggerDeps): HttpHandler {
  return (request) => {
    const query = new URLSearchParams(request.query);
    authenticate(deps.sources, request, query.get('writeKey'));
    const value = query.get('challenge');
    if (value === null || value.length > maxChallengeLength) return notAllowed(request);
    return jsonReply(200, { challenge: value });
  };
}

function notAllowed(request: IngestRequest): Reply {
  return errorReply(new ReboundError('INGEST_METHOD_NOT_ALLOWED', `${request.method.toUpperCase()} is not allowed on /v1/triggers (POST trigger messages)`));
}

export function registerTriggers(server: IngestServer, deps: TriggerDeps): void {
  server.route('post', '/v1/triggers', receive(deps), { name: 'triggers', maxBodyBytes: triggerBodyBytes });
  server.route('get', '/v1/triggers', challenge(deps), { name: 'triggers' });
  server.route('any', '/v1/triggers', notAllowed, { name: 'triggers' });
}

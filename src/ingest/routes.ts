// The HTTP endpoints of SPEC §2: Segment, AppMeasurement, native hits, health. Each handler
// decodes, authenticates, maps every message (all-or-nothing: one bad message refuses the
// request before anything is written), then waits for the writer.
import { isUtf8 } from 'node:buffer';
import { ReboundError, isReboundError } from '../core/errors.js';
import type { Hit, HitType } from '../model/hit.js';
import { isRecord, readHit } from '../model/hit-parse.js';
import { mapAppMeasurement } from './adobe.js';
import { authenticate, parseJson, parseMsgpack, requireMediaType } from './body.js';
import { errorReply, jsonReply, okReply, type HttpHandler, type IngestRequest, type Reply } from './http-types.js';
import { countHits } from './metrics.js';
import type { OverloadMonitor } from './overload.js';
import { batchMessages, mapSegmentMessage, segmentBatchBytes, segmentMessageBytes } from './segment.js';
import type { IngestServer } from './server.js';
import type { SourceRegistry } from './sources.js';
import type { HitWriter } from './writer.js';

export interface IngestDeps {
  sources: SourceRegistry;
  writer: HitWriter;
  monitor: OverloadMonitor;
  maxBodyBytes: number;
}

export const maxHitsPerRequest = 10_000;
const adobeBodyBytes = 256 * 1024;
const jsonTypes = new Set(['application/json', 'text/plain', '']);
const nativeTypes = new Set(['application/json', 'application/msgpack', 'application/x-msgpack', 'application/vnd.msgpack']);
const formTypes = new Set(['application/x-www-form-urlencoded', 'text/plain', '']);
const gif = Buffer.from('R0lGODlhAQABAIAAAP///wAAACH5BAEAAAAALAAAAAABAAEAAAICRAEAOw==', 'base64');
const gifReply: Reply = { status: 200, headers: { 'content-type': 'image/gif', 'cache-control': 'no-cache, no-store, max-age=0' }, body: gif };
const noContentReply: Reply = { status: 204 };

/**
 * Writes a request's hits; counts them by result. Not an async function, and neither is any
 * caller that holds a parsed body or hits: an async function keeps its locals alive across its
 * await, which kept every in-flight request's parsed body and hits alive until Redis answered
 * (profiles: a young generation copying megabytes of them per scavenge, and promoting them).
 */
export function writeHits(deps: IngestDeps, source: string, hits: Hit[]): Promise<void> {
  const count = hits.length;
  let written: Promise<void>;
  try {
    written = deps.writer.write(hits);
  } catch (err) {
    written = Promise.reject(err);
  }
  return written.then(
    () => countHits(source, 'written', count),
    (err: unknown) => {
      countHits(source, 'failed', count);
      throw isReboundError(err) ? err : new ReboundError('REDIS_UNAVAILABLE', 'append failed', { cause: err });
    },
  );
}

/** A refused request counts once under its source ('unknown' before the write key was read). */
function refuse(source: string, err: unknown): Promise<never> {
  countHits(source, 'rejected', 1);
  return Promise.reject(err);
}

const replyOk = (): Reply => okReply;

/** Parses, authenticates and maps a Segment request, then queues its hits (its source goes to `sourceOut`). */
function queueSegment(deps: IngestDeps, type: HitType | 'batch', request: IngestRequest, sourceOut: { id: string }): Promise<void> {
  requireMediaType(request, jsonTypes);
  const body = parseJson(request.body);
  if (!isRecord(body)) throw new ReboundError('INGEST_BODY_MALFORMED', 'the body must be a JSON object');
  const source = authenticate(deps.sources, request, body.writeKey);
  sourceOut.id = source.id;
  const context = { source: source.id, receivedAt: request.receivedAt, sentAt: body.sentAt, context: body.context };
  const hits = type === 'batch' ? batchMessages(body, request.body).map((message, i) => mapSegmentMessage(message, undefined, context, i)) : [mapSegmentMessage(body, type, { source: source.id, receivedAt: request.receivedAt }, 0)];
  return writeHits(deps, source.id, hits);
}

function segment(deps: IngestDeps, type: HitType | 'batch'): HttpHandler {
  return (request) => {
    const source = { id: 'unknown' };
    let written: Promise<void>;
    try {
      written = queueSegment(deps, type, request, source);
    } catch (err) {
      return refuse(source.id, err);
    }
    return written.then(replyOk, (err: unknown) => refuse(source.id, err));
  };
}

function adobe(deps: IngestDeps): HttpHandler {
  return async (request) => {
    const rsids = (request.params[0] ?? '').split(',');
    const source = rsids.map((rsid) => deps.sources.byId(rsid)).find((found) => found !== undefined);
    if (!source) throw new ReboundError('INGEST_SOURCE_UNKNOWN', `unknown report suite "${request.params[0] ?? ''}"`);
    let params = request.query;
    if (request.method === 'post') {
      requireMediaType(request, formTypes);
      if (!isUtf8(request.body)) throw new ReboundError('INGEST_BODY_ENCODING', 'body is not valid UTF-8');
      if (request.body.length > 0) params = request.body.toString('utf8');
    }
    const rest = request.url.slice(request.url.indexOf('/', 6 + (request.params[0] ?? '').length));
    try {
      const { hit, noContent } = mapAppMeasurement({ source: source.id, rest, params, receivedAt: request.receivedAt });
      await writeHits(deps, source.id, [hit]);
      return noContent ? noContentReply : gifReply;
    } catch (err) {
      return refuse(source.id, err);
    }
  };
}

/** The hits of a native body: an array, or `{writeKey?, hits: [...]}`. */
export function nativeHits(body: unknown): { list: unknown[]; writeKey: unknown } {
  const list = Array.isArray(body) ? body : isRecord(body) && Array.isArray(body.hits) ? body.hits : undefined;
  if (!list) throw new ReboundError('INGEST_BODY_MALFORMED', 'expected an array of hits or {"hits": [...]}');
  if (list.length > maxHitsPerRequest) throw new ReboundError('INGEST_TOO_MANY_HITS', `${list.length} hits exceed the limit of ${maxHitsPerRequest}`);
  return { list, writeKey: isRecord(body) ? body.writeKey : undefined };
}

/** Parses, authenticates and reads a native request, then queues its hits (its source goes to `sourceOut`). */
function queueNative(deps: IngestDeps, request: IngestRequest, sourceOut: { id: string }): Promise<void> {
  const type = requireMediaType(request, nativeTypes);
  const body = type === 'application/json' ? parseJson(request.body) : parseMsgpack(request.body);
  const { list, writeKey } = nativeHits(body);
  const source = authenticate(deps.sources, request, writeKey);
  sourceOut.id = source.id;
  const context = { source: source.id, receivedAt: request.receivedAt };
  return writeHits(deps, source.id, list.map((raw, i) => readHit(raw, context, i)));
}

function native(deps: IngestDeps): HttpHandler {
  return (request) => {
    const source = { id: 'unknown' };
    let written: Promise<void>;
    try {
      written = queueNative(deps, request, source);
    } catch (err) {
      return refuse(source.id, err);
    }
    return written.then(replyOk, (err: unknown) => refuse(source.id, err));
  };
}

const segmentTypes: ReadonlyArray<HitType> = ['track', 'page', 'screen', 'identify', 'alias', 'group'];
const knownPaths = new Set(['/v1/batch', '/v1/import', '/v1/hits', '/v1/stream', '/healthz', '/readyz', ...segmentTypes.map((t) => `/v1/${t}`)]);

function fallback(request: IngestRequest): Reply {
  const path = request.url.length > 1 && request.url.endsWith('/') ? request.url.slice(0, -1) : request.url;
  if (knownPaths.has(path) || path.startsWith('/b/ss/')) return errorReply(new ReboundError('INGEST_METHOD_NOT_ALLOWED', `${request.method.toUpperCase()} is not allowed on ${path}`));
  return errorReply(new ReboundError('INGEST_ROUTE_NOT_FOUND', `no endpoint ${path}`));
}

export function registerRoutes(server: IngestServer, deps: IngestDeps): void {
  for (const type of segmentTypes) {
    server.route('post', `/v1/${type}`, segment(deps, type), { name: `segment.${type}`, maxBodyBytes: segmentMessageBytes, tooLarge: 'INGEST_MESSAGE_TOO_LARGE' });
  }
  for (const path of ['/v1/batch', '/v1/import']) server.route('post', path, segment(deps, 'batch'), { name: 'segment.batch', maxBodyBytes: segmentBatchBytes });
  server.route('post', '/v1/hits', native(deps), { name: 'native', maxBodyBytes: deps.maxBodyBytes });
  server.route('get', '/b/ss/:rsid/*', adobe(deps), { name: 'adobe' });
  server.route('post', '/b/ss/:rsid/*', adobe(deps), { name: 'adobe', maxBodyBytes: adobeBodyBytes });
  server.route('get', '/healthz', () => jsonReply(200, { status: 'ok' }), { name: 'healthz' });
  server.route('get', '/readyz', () => {
    const refusal = deps.monitor.check();
    return refusal ? { ...errorReply(refusal), status: 503 } : jsonReply(200, { status: 'ready' });
  }, { name: 'readyz' });
  server.route('any', '/*', fallback, { name: 'other' });
}

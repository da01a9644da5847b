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

/** Writes a request's hits; counts them by result. */
export async function writeHits(deps: IngestDeps, source: string, hits: Hit[]): Promise<void> {
  // Only the count outlives the await: the hits themselves are garbage once the writer has encoded them.
  const count = hits.length;
  try {
    await deps.writer.write(hits);
    countHits(source, 'written', count);
  } catch (err) {
    countHits(source, 'failed', count);
    throw isReboundError(err) ? err : new ReboundError('REDIS_UNAVAILABLE', 'append failed', { cause: err });
  }
}

function rejected(source: string): (err: unknown) => never {
  return (err) => {
    countHits(source, 'rejected', 1);
    throw err;
  };
}

function segment(deps: IngestDeps, type: HitType | 'batch'): HttpHandler {
  return async (request) => {
    let sourceId = 'unknown';
    try {
      requireMediaType(request, jsonTypes);
      const body = parseJson(request.body);
      if (!isRecord(body)) throw new ReboundError('INGEST_BODY_MALFORMED', 'the body must be a JSON object');
      const source = authenticate(deps.sources, request, body.writeKey);
      sourceId = source.id;
      const context = { source: source.id, receivedAt: request.receivedAt, sentAt: body.sentAt, context: body.context };
      const hits = type === 'batch' ? batchMessages(body, request.body).map((message, i) => mapSegmentMessage(message, undefined, context, i)) : [mapSegmentMessage(body, type, { source: source.id, receivedAt: request.receivedAt }, 0)];
      await writeHits(deps, source.id, hits);
      return okReply;
    } catch (err) {
      return rejected(sourceId)(err);
    }
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
      return rejected(source.id)(err);
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

function native(deps: IngestDeps): HttpHandler {
  return async (request) => {
    let sourceId = 'unknown';
    try {
      const type = requireMediaType(request, nativeTypes);
      const body = type === 'application/json' ? parseJson(request.body) : parseMsgpack(request.body);
      const { list, writeKey } = nativeHits(body);
      const source = authenticate(deps.sources, request, writeKey);
      sourceId = source.id;
      const context = { source: source.id, receivedAt: request.receivedAt };
      const hits = list.map((raw, i) => readHit(raw, context, i));
      await writeHits(deps, source.id, hits);
      return okReply;
    } catch (err) {
      return rejected(sourceId)(err);
    }
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

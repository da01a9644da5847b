// Decoding request bodies and finding the write key: JSON (UTF-8 checked), MessagePack, forms.
import { isUtf8 } from 'node:buffer';
import { decode } from '../core/codec.js';
import { ReboundError } from '../core/errors.js';
import type { Source } from '../model/source.js';
import type { IngestRequest } from './http-types.js';
import type { SourceRegistry } from './sources.js';

export function parseJson(body: Buffer): unknown {
  if (!isUtf8(body)) throw new ReboundError('INGEST_BODY_ENCODING', 'body is not valid UTF-8');
  try {
    return JSON.parse(body.toString('utf8'));
  } catch (err) {
    throw new ReboundError('INGEST_BODY_MALFORMED', `malformed JSON: ${(err as Error).message}`, { cause: err });
  }
}

export function parseMsgpack(body: Buffer): unknown {
  if (body.length === 0) throw new ReboundError('INGEST_BODY_MALFORMED', 'empty MessagePack body');
  return decode(body);
}

/** The media type without parameters, lower-case ('' when absent). */
export function mediaType(request: IngestRequest): string {
  const header = request.headers['content-type'] ?? '';
  const semi = header.indexOf(';');
  return (semi < 0 ? header : header.slice(0, semi)).trim().toLowerCase();
}

/** Refuses compressed bodies and media types outside `accepted` ('' = header absent). */
export function requireMediaType(request: IngestRequest, accepted: ReadonlySet<string>): string {
  const encoding = request.headers['content-encoding'];
  if (encoding !== undefined && encoding.toLowerCase() !== 'identity') throw new ReboundError('INGEST_CONTENT_TYPE', `Content-Encoding ${encoding} is not accepted`);
  const type = mediaType(request);
  if (!accepted.has(type)) throw new ReboundError('INGEST_CONTENT_TYPE', `Content-Type "${type}" is not accepted here`);
  return type;
}

/** The write key of HTTP Basic auth (user name, empty password). */
export function basicWriteKey(request: IngestRequest): string | undefined {
  const header = request.headers.authorization;
  if (header === undefined || !/^basic /i.test(header)) return undefined;
  const decoded = Buffer.from(header.slice(6).trim(), 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  const user = colon < 0 ? decoded : decoded.slice(0, colon);
  return user === '' ? undefined : user;
}

/** The source of a request: Basic auth first, else a `writeKey` body field. */
export function authenticate(sources: SourceRegistry, request: IngestRequest, bodyKey: unknown): Source {
  const key = basicWriteKey(request) ?? (typeof bodyKey === 'string' && bodyKey !== '' ? bodyKey : undefined);
  if (key === undefined) throw new ReboundError('INGEST_WRITE_KEY_MISSING', 'no write key (HTTP Basic user name or writeKey field)');
  const source = sources.byWriteKey(key);
  if (!source) throw new ReboundError('INGEST_WRITE_KEY_UNKNOWN', 'unknown write key');
  return source;
}

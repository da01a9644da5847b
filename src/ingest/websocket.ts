// WebSocket /v1/stream (SPEC §2.3): frames `{seq, hits}` as JSON text or MessagePack binary,
// answered `{ack: seq}` once durable or `{nack: seq, error}`. Frames are independent and may
// complete in any order. Unacknowledged bytes are bounded per connection and per process: a
// frame over either bound is nacked with INGEST_OVERLOADED (uWS cannot pause a WebSocket's
// reads, so refusing the frame is how the bound holds; the client retries it).
import { isUtf8 } from 'node:buffer';
import { decode } from '../core/codec.js';
import { ReboundError, asReboundError } from '../core/errors.js';
import { isRecord, readHit } from '../model/hit-parse.js';
import { basicWriteKey } from './body.js';
import { countHits } from './metrics.js';
import { maxHitsPerRequest, writeHits, type IngestDeps } from './routes.js';
import type { IngestServer, StreamSocket } from './server.js';

interface Connection {
  source: string;
  unacked: number;
}

export interface StreamOptions {
  maxFrameBytes: number;
  maxConnectionInFlightBytes: number;
  idleTimeoutMs: number;
}

function parseFrame(data: Buffer, isBinary: boolean): { seq: unknown; hits: unknown } {
  let frame: unknown;
  if (isBinary) frame = decode(data);
  else {
    if (!isUtf8(data)) throw new ReboundError('INGEST_BODY_ENCODING', 'frame is not valid UTF-8');
    try {
      frame = JSON.parse(data.toString('utf8'));
    } catch (err) {
      throw new ReboundError('INGEST_BODY_MALFORMED', `malformed JSON frame: ${(err as Error).message}`);
    }
  }
  if (!isRecord(frame)) throw new ReboundError('INGEST_BODY_MALFORMED', 'a frame must be {"seq": n, "hits": [...]}');
  return { seq: frame.seq, hits: frame.hits };
}

function nack(socket: StreamSocket, seq: unknown, err: unknown): void {
  socket.send(JSON.stringify({ nack: seq ?? null, error: asReboundError(err).toJSON().error }));
}

function onFrame(server: IngestServer, deps: IngestDeps, options: StreamOptions, socket: StreamSocket, connection: Connection, data: Buffer, isBinary: boolean): void {
  let seq: unknown = null;
  try {
    const frame = parseFrame(data, isBinary);
    seq = frame.seq;
    if (typeof seq !== 'number' && typeof seq !== 'string') throw new ReboundError('INGEST_BODY_MALFORMED', 'seq must be a number or string');
    if (!Array.isArray(frame.hits)) throw new ReboundError('INGEST_BODY_MALFORMED', 'hits must be an array');
    if (frame.hits.length > maxHitsPerRequest) throw new ReboundError('INGEST_TOO_MANY_HITS', `${frame.hits.length} hits exceed the limit of ${maxHitsPerRequest}`);
    const refusal = deps.monitor.check();
    if (refusal) throw refusal;
    if (connection.unacked + data.length > options.maxConnectionInFlightBytes) throw new ReboundError('INGEST_OVERLOADED', 'too many unacknowledged bytes on this connection');
    const context = { source: connection.source, receivedAt: Date.now() };
    const hits = frame.hits.map((raw, i) => readHit(raw, context, i));
    if (!server.reserve(data.length)) throw new ReboundError('INGEST_OVERLOADED', 'ingest in-flight bytes exhausted');
    connection.unacked += data.length;
    const frameSeq = seq;
    writeHits(deps, connection.source, hits).then(
      () => socket.send(`{"ack":${JSON.stringify(frameSeq)}}`),
      (err: unknown) => nack(socket, frameSeq, err),
    ).finally(() => {
      connection.unacked -= data.length;
      server.release(data.length);
    });
  } catch (err) {
    countHits(connection.source, 'rejected', 1);
    nack(socket, seq, err);
  }
}

export function registerStream(server: IngestServer, deps: IngestDeps, options: StreamOptions): void {
  server.stream<Connection>('/v1/stream', {
    maxPayloadBytes: options.maxFrameBytes,
    idleTimeoutMs: options.idleTimeoutMs,
    upgrade: (request) => {
      const key = new URLSearchParams(request.query).get('writeKey') ?? basicWriteKey(request);
      if (!key) return new ReboundError('INGEST_WRITE_KEY_MISSING', 'no write key (?writeKey= or HTTP Basic)');
      const source = deps.sources.byWriteKey(key);
      if (!source) return new ReboundError('INGEST_WRITE_KEY_UNKNOWN', 'unknown write key');
      return { source: source.id, unacked: 0 };
    },
    message: (socket, connection, data, isBinary) => onFrame(server, deps, options, socket, connection, data, isBinary),
  });
}

// The uWebSockets.js wrapper: listening, routes, bodies streamed in with a limit, a per-process
// in-flight byte budget, slow-client timeouts, WebSockets. Handlers get plain data and never see
// uWS. uWS rules kept here: onAborted is set before any async work, writes after an await go
// through cork(), and a response is never touched after it was aborted or ended. Bodies of 4 to
// 64 KB are read into buffers kept for reuse (power-of-two sizes, so at most twice the body),
// taken back once the request has been answered (a fresh 25 KB buffer per request showed as
// 1.5–2.5 % of ingest's CPU).
// (A longer file: the HTTP and WebSocket halves share the admission and answer code.)
import uWS from 'uWebSockets.js';
import { ReboundError, type ErrorCode } from '../core/errors.js';
import { errorReply, statusText, type HttpHandler, type IngestRequest, type Reply } from './http-types.js';

export interface ServerOptions {
  host: string;
  port: number;
  maxInFlightBytes: number;
  requestTimeoutMs: number;
  /** Called before a body is read: an error (overload, Redis down) refuses the request. */
  admit?: () => ReboundError | undefined;
  /** Called after each answer (metrics). */
  onReply?: (route: string, request: IngestRequest, reply: Reply, seconds: number) => void;
}

export interface RouteOptions {
  /** 0 (default) = the route reads no body. */
  maxBodyBytes?: number;
  /** The code of a body over maxBodyBytes. */
  tooLarge?: ErrorCode;
  /** The route's label in metrics. */
  name: string;
}

export interface StreamSocket {
  send(text: string): void;
  readonly closed: boolean;
}

export interface StreamHandlers<C> {
  maxPayloadBytes: number;
  idleTimeoutMs: number;
  /** A context for the new socket, or a refusal answered over HTTP. */
  upgrade(request: IngestRequest): C | ReboundError;
  message(socket: StreamSocket, context: C, data: Buffer, isBinary: boolean): void;
  close?(context: C): void;
}

interface Pending {
  res: uWS.HttpResponse;
  request: IngestRequest;
  reserved: number;
  deadline: number;
  aborted: boolean;
  done: boolean;
  started: number;
  route: string;
  /** The reusable buffer `request.body` lives in, returned when the request is answered. */
  pooled: Buffer | undefined;
  /** The handler's promise has not settled yet. */
  handling: boolean;
}

/** Bodies of these sizes are read into reusable buffers (power-of-two classes); a bounded number of each are kept. */
const minPooledBodyBytes = 4 * 1024;
const maxPooledBodyBytes = 64 * 1024;
const maxPooledPerSize = 32;

function pooledSize(length: number): number {
  return 2 ** Math.ceil(Math.log2(length));
}

const capturedHeaders = ['content-type', 'content-length', 'authorization', 'transfer-encoding', 'content-encoding'];

function capture(req: uWS.HttpRequest, paramCount: number, receivedAt: number): IngestRequest {
  const headers: Record<string, string> = {};
  for (const name of capturedHeaders) {
    const value = req.getHeader(name);
    if (value !== '') headers[name] = value;
  }
  const params: string[] = [];
  for (let i = 0; i < paramCount; i++) params.push(req.getParameter(i));
  return { method: req.getMethod(), url: req.getUrl(), query: req.getQuery() ?? '', params, headers, body: emptyBody, receivedAt };
}

const emptyBody = Buffer.alloc(0);

export class IngestServer {
  readonly #app = uWS.App();
  readonly #options: ServerOptions;
  readonly #reading = new Set<Pending>();
  readonly #active = new Set<Pending>();
  /** Reusable body buffers by size. */
  readonly #bodies = new Map<number, Buffer[]>();
  #listenSocket: uWS.us_listen_socket | undefined;
  #inFlightBytes = 0;
  #closing = false;
  #sweeper: NodeJS.Timeout | undefined;

  constructor(options: ServerOptions) {
    this.#options = options;
  }

  get inFlightBytes(): number {
    return this.#inFlightBytes;
  }

  /** Takes bytes from the process budget (WebSocket frames); false when it is used up. */
  reserve(bytes: number): boolean {
    if (this.#inFlightBytes + bytes > this.#options.maxInFlightBytes) return false;
    this.#inFlightBytes += bytes;
    return true;
  }

  release(bytes: number): void {
    this.#inFlightBytes -= bytes;
  }

  route(method: 'get' | 'post' | 'any', pattern: string, handler: HttpHandler, options: RouteOptions): void {
    const paramCount = (pattern.match(/\/:/g) ?? []).length;
    this.#app[method](pattern, (res, req) => this.#accept(res, capture(req, paramCount, Date.now()), handler, options));
  }

  stream<C>(pattern: string, handlers: StreamHandlers<C>): void {
    type Data = { context: C; socket: { closed: boolean; send: (text: string) => void } };
    this.#app.ws<Data>(pattern, {
      maxPayloadLength: handlers.maxPayloadBytes,
      idleTimeout: Math.max(8, Math.round(handlers.idleTimeoutMs / 4000) * 4),
      maxBackpressure: 1024 * 1024,
      upgrade: (res, req, context) => {
        const request = capture(req, 0, Date.now());
        const key = req.getHeader('sec-websocket-key');
        const protocol = req.getHeader('sec-websocket-protocol');
        const extensions = req.getHeader('sec-websocket-extensions');
        const result = this.#closing ? new ReboundError('INGEST_SHUTTING_DOWN', 'ingest is shutting down') : handlers.upgrade(request);
        if (result instanceof ReboundError) {
          this.#write(res, errorReply(result));
          return;
        }
        const socket = { closed: false, send: (_text: string) => {} };
        res.upgrade<Data>({ context: result, socket }, key, protocol, extensions, context);
      },
      open: (ws) => {
        const data = ws.getUserData();
        data.socket.send = (text) => {
          if (!data.socket.closed) ws.cork(() => ws.send(text, false));
        };
      },
      message: (ws, message, isBinary) => {
        const data = ws.getUserData();
        // The ArrayBuffer is neutered after this callback: copy it.
        handlers.message(data.socket, data.context, Buffer.from(new Uint8Array(message)), isBinary);
      },
      close: (ws) => {
        const data = ws.getUserData();
        data.socket.closed = true;
        handlers.close?.(data.context);
      },
    });
  }

  /** Listens; resolves with the port (a free one when options.port is 0). Several processes may share a port (SO_REUSEPORT). */
  listen(): Promise<number> {
    this.#sweeper = setInterval(() => this.#sweep(), Math.min(250, this.#options.requestTimeoutMs));
    this.#sweeper.unref();
    return new Promise((resolve, reject) => {
      this.#app.listen(this.#options.host, this.#options.port, (socket) => {
        if (!socket) {
          reject(new ReboundError('CONFIG_INVALID', `ingest cannot listen on ${this.#options.host}:${this.#options.port}`, { path: 'ingest.port' }));
          return;
        }
        this.#listenSocket = socket;
        resolve(uWS.us_socket_local_port(socket as unknown as uWS.us_socket));
      });
    });
  }

  /** Stops accepting, waits (bounded by the caller's shutdown timeout) for answers in progress, then closes every connection. */
  async close(): Promise<void> {
    this.#closing = true;
    if (this.#listenSocket) uWS.us_listen_socket_close(this.#listenSocket);
    this.#listenSocket = undefined;
    while (this.#active.size > 0) await new Promise((resolve) => setTimeout(resolve, 10));
    clearInterval(this.#sweeper);
    // close() exists at run time (uWS ≥ 20.16) but not in this build's typings.
    (this.#app as unknown as { close(): void }).close();
  }

  #accept(res: uWS.HttpResponse, request: IngestRequest, handler: HttpHandler, options: RouteOptions): void {
    const pending: Pending = { res, request, reserved: 0, deadline: 0, aborted: false, done: false, started: performance.now(), route: options.name, pooled: undefined, handling: false };
    res.onAborted(() => {
      pending.aborted = true;
      this.#release(pending);
    });
    this.#active.add(pending);
    const maxBody = options.maxBodyBytes ?? 0;
    if (this.#closing) return this.#answer(pending, errorReply(new ReboundError('INGEST_SHUTTING_DOWN', 'ingest is shutting down')));
    if (maxBody === 0 || request.method !== 'post') return this.#dispatch(pending, handler);
    const refusal = this.#admitBody(request, maxBody, options.tooLarge ?? 'INGEST_BODY_TOO_LARGE');
    if (refusal) return this.#answer(pending, errorReply(refusal));
    this.#readBody(pending, handler, maxBody, options.tooLarge ?? 'INGEST_BODY_TOO_LARGE');
  }

  #admitBody(request: IngestRequest, maxBody: number, tooLarge: ErrorCode): ReboundError | undefined {
    const lengthText = request.headers['content-length'];
    const chunked = /chunked/i.test(request.headers['transfer-encoding'] ?? '');
    if (lengthText === undefined && !chunked) return new ReboundError('INGEST_LENGTH_REQUIRED', 'Content-Length is required');
    const length = lengthText === undefined ? maxBody : Number(lengthText);
    if (!Number.isSafeInteger(length) || length < 0) return new ReboundError('INGEST_BODY_MALFORMED', 'invalid Content-Length');
    if (length > maxBody) return new ReboundError(tooLarge, `body of ${length} bytes exceeds the limit of ${maxBody}`, tooLarge === 'INGEST_MESSAGE_TOO_LARGE' ? { index: 0 } : {});
    if (this.#inFlightBytes + length > this.#options.maxInFlightBytes) return new ReboundError('INGEST_OVERLOADED', 'ingest in-flight bytes exhausted');
    return this.#options.admit?.();
  }

  #readBody(pending: Pending, handler: HttpHandler, maxBody: number, tooLarge: ErrorCode): void {
    const lengthText = pending.request.headers['content-length'];
    const known = lengthText !== undefined;
    pending.reserved = known ? Number(lengthText) : maxBody;
    this.#inFlightBytes += pending.reserved;
    if (known && pending.reserved === 0) return this.#dispatch(pending, handler);
    if (known && pending.reserved >= minPooledBodyBytes && pending.reserved <= maxPooledBodyBytes) {
      const size = pooledSize(pending.reserved);
      pending.pooled = this.#bodies.get(size)?.pop() ?? Buffer.allocUnsafeSlow(size);
    }
    let buffer = pending.pooled ? pending.pooled.subarray(0, pending.reserved) : Buffer.allocUnsafe(pending.reserved);
    let received = 0;
    pending.deadline = Date.now() + this.#options.requestTimeoutMs;
    this.#reading.add(pending);
    pending.res.onData((chunk, isLast) => {
      if (pending.done || pending.aborted) return;
      if (received + chunk.byteLength > buffer.length) {
        const message = `body exceeds the limit of ${known ? buffer.length : maxBody} bytes`;
        return this.#answer(pending, errorReply(new ReboundError(received + chunk.byteLength > maxBody ? tooLarge : 'INGEST_BODY_MALFORMED', message)));
      }
      buffer.set(new Uint8Array(chunk), received);
      received += chunk.byteLength;
      if (!isLast) return;
      this.#reading.delete(pending);
      if (!known) buffer = buffer.subarray(0, received);
      else if (received !== buffer.length) return this.#answer(pending, errorReply(new ReboundError('INGEST_BODY_MALFORMED', 'body shorter than Content-Length')));
      pending.request.body = buffer;
      this.#dispatch(pending, handler);
    });
  }

  #dispatch(pending: Pending, handler: HttpHandler): void {
    let result: Reply | Promise<Reply>;
    try {
      result = handler(pending.request);
    } catch (err) {
      return this.#answer(pending, errorReply(err));
    }
    if (!(result instanceof Promise)) return this.#answer(pending, result);
    pending.handling = true;
    result.then(
      (reply) => {
        pending.handling = false;
        this.#answer(pending, reply);
      },
      (err: unknown) => {
        pending.handling = false;
        this.#answer(pending, errorReply(err));
      },
    );
  }

  #answer(pending: Pending, reply: Reply): void {
    if (pending.done) return;
    if (!pending.aborted) pending.res.cork(() => this.#write(pending.res, reply));
    this.#options.onReply?.(pending.route, pending.request, reply, (performance.now() - pending.started) / 1000);
    this.#release(pending);
  }

  #write(res: uWS.HttpResponse, reply: Reply): void {
    res.writeStatus(statusText[reply.status] ?? String(reply.status));
    if (reply.headers) for (const name in reply.headers) res.writeHeader(name, reply.headers[name] as string);
    res.end(reply.body ?? '', reply.close === true);
  }

  #release(pending: Pending): void {
    if (pending.done) return;
    pending.done = true;
    this.#inFlightBytes -= pending.reserved;
    pending.reserved = 0;
    this.#reading.delete(pending);
    this.#active.delete(pending);
    // The body's buffer is reused once the handler is done with it; a request aborted while its
    // handler still runs leaves the buffer to the GC.
    if (pending.pooled !== undefined && !pending.handling) {
      let free = this.#bodies.get(pending.pooled.length);
      if (free === undefined) this.#bodies.set(pending.pooled.length, (free = []));
      if (free.length < maxPooledPerSize) free.push(pending.pooled);
    }
    pending.pooled = undefined;
    pending.request.body = emptyBody;
  }

  #sweep(): void {
    const now = Date.now();
    for (const pending of this.#reading) {
      if (now > pending.deadline) this.#answer(pending, errorReply(new ReboundError('INGEST_REQUEST_TIMEOUT', `body not received within ${this.#options.requestTimeoutMs} ms`)));
    }
  }
}

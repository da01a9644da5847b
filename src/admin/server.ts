// The admin API's HTTP server (node:http: admin traffic is a few requests, not the ingest's
// hot path). Per request, in this order: bearer token (401), route (404/405), body within
// `maxBodyBytes` (413) parsed as JSON (400), then the handler. Every error is answered as
// `{error: {code, message, path?, errors?}}`; a bug in a handler is a 500 that is logged, never
// a crash.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { ReboundError, isReboundError } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import { DefinitionsInvalid, issuesOf } from '../model/definition-issues.js';
import { checkBearer, tokenDigest } from './auth.js';
import type { AdminReply, Router } from './router.js';

export interface AdminServerOptions {
  host: string;
  port: number;
  token: string;
  maxBodyBytes: number;
  router: Router;
  logger: Logger;
}

export interface AdminServer {
  port: number;
  url: string;
  close(): Promise<void>;
}

/** The JSON body of an error answer. */
export function errorBody(error: ReboundError): { error: Record<string, unknown> } {
  const body: Record<string, unknown> = { code: error.code, message: error.message };
  if (error.path !== undefined) body.path = error.path;
  if (error instanceof DefinitionsInvalid) body.errors = error.issues;
  else if (error.status === 422) body.errors = issuesOf(error);
  return { error: body };
}

function send(response: ServerResponse, reply: AdminReply): void {
  const headers: Record<string, string> = { 'cache-control': 'no-store', ...reply.headers };
  if (reply.body === undefined) {
    response.writeHead(reply.status, headers).end();
    return;
  }
  const text = JSON.stringify(reply.body);
  response.writeHead(reply.status, { ...headers, 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) }).end(text);
}

function readBody(request: IncomingMessage, maxBytes: number): Promise<Buffer> {
  const declared = Number(request.headers['content-length']);
  if (Number.isFinite(declared) && declared > maxBytes) return Promise.reject(tooLarge(maxBytes));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    request.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBytes) {
        request.removeAllListeners('data');
        request.resume();
        reject(tooLarge(maxBytes));
      } else chunks.push(chunk);
    });
    request.once('end', () => resolve(Buffer.concat(chunks)));
    request.once('error', reject);
  });
}

const tooLarge = (maxBytes: number): ReboundError => new ReboundError('ADMIN_BODY_TOO_LARGE', `the request body is larger than admin.maxBodyBytes (${maxBytes} bytes)`);

function parseJson(bytes: Buffer): unknown {
  if (bytes.length === 0) return undefined;
  try {
    return JSON.parse(bytes.toString('utf8')) as unknown;
  } catch (err) {
    throw new ReboundError('ADMIN_BODY_MALFORMED', `the request body is not JSON: ${(err as Error).message}`);
  }
}

async function handle(request: IncomingMessage, options: AdminServerOptions, digest: Buffer): Promise<AdminReply> {
  checkBearer(request.headers.authorization, digest);
  const url = new URL(request.url ?? '/', 'http://admin');
  const method = request.method ?? 'GET';
  const match = options.router.match(method, url.pathname);
  if (!('handler' in match)) {
    if (match.allowed.length === 0) throw new ReboundError('ADMIN_ROUTE_NOT_FOUND', `no admin route ${url.pathname}`);
    const error = new ReboundError('ADMIN_METHOD_NOT_ALLOWED', `${method} is not allowed on ${url.pathname}; use ${match.allowed.join(', ')}`);
    return { status: error.status, body: errorBody(error), headers: { allow: match.allowed.join(', ') } };
  }
  const body = method === 'GET' || method === 'HEAD' ? undefined : parseJson(await readBody(request, options.maxBodyBytes));
  return match.handler({ method, path: url.pathname, params: match.params, query: url.searchParams, body });
}

export function startAdminServer(options: AdminServerOptions): Promise<AdminServer> {
  const digest = tokenDigest(options.token);
  const server: Server = createServer((request, response) => {
    handle(request, options, digest).then(
      (reply) => send(response, reply),
      (err: unknown) => {
        const error = isReboundError(err) ? err : new ReboundError('ADMIN_INTERNAL_ERROR', 'the admin API failed unexpectedly; see its log', { cause: err });
        if (error.status >= 500) options.logger.error({ err: err instanceof Error ? err.message : String(err), code: error.code, path: request.url }, 'admin request failed');
        const close = error.code === 'ADMIN_BODY_TOO_LARGE' ? { connection: 'close' } : {};
        send(response, { status: error.status, body: errorBody(error), headers: close });
      },
    );
  });
  server.requestTimeout = 60_000;
  server.headersTimeout = 20_000;
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      const port = (server.address() as { port: number }).port;
      resolve({
        port,
        url: `http://${options.host.includes(':') ? `[${options.host}]` : options.host}:${port}`,
        close: () =>
          new Promise((done) => {
            server.close(() => done());
            server.closeIdleConnections();
          }),
      });
    });
  });
}

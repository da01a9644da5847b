// What route handlers see of HTTP: plain data in, plain data out. Only server.ts touches uWS.
import { isReboundError, ReboundError } from '../core/errors.js';

export interface IngestRequest {
  /** Lower-case method as uWS reports it ('get', 'post'). */
  readonly method: string;
  readonly url: string;
  /** The raw query string, without '?'. */
  readonly query: string;
  readonly params: readonly string[];
  /** The captured headers (lower-case names): content-type, content-length, authorization, … */
  readonly headers: Readonly<Record<string, string>>;
  /** Valid until the request is answered: its memory is then reused for another request's body. */
  body: Buffer;
  readonly receivedAt: number;
}

export interface Reply {
  status: number;
  headers?: Readonly<Record<string, string>>;
  body?: string | Buffer;
  /** Close the connection after answering (a body left unread, a slow client). */
  close?: boolean;
}

export type HttpHandler = (request: IngestRequest) => Reply | Promise<Reply>;

const jsonHeaders = { 'content-type': 'application/json' } as const;
const retryHeaders = { 'content-type': 'application/json', 'retry-after': '1' } as const;

export const okReply: Reply = { status: 200, headers: jsonHeaders, body: '{"success":true}' };

/** The SPEC §2.4 error answer; retriable 429/503/408 carry Retry-After. */
export function errorReply(err: unknown): Reply {
  const error = isReboundError(err) ? err : new ReboundError('REDIS_REPLY_ERROR', 'internal error', { cause: err, status: 500 });
  const retry = error.retriable && (error.status === 429 || error.status === 503);
  const close = error.status === 408 || error.status === 411 || error.status === 413;
  return { status: error.status, headers: retry ? retryHeaders : jsonHeaders, body: JSON.stringify(error.toJSON()), close };
}

export function jsonReply(status: number, value: unknown): Reply {
  return { status, headers: jsonHeaders, body: JSON.stringify(value) };
}

/** Status line texts for the statuses Rebound answers. */
export const statusText: Readonly<Record<number, string>> = {
  200: '200 OK',
  204: '204 No Content',
  302: '302 Found',
  400: '400 Bad Request',
  401: '401 Unauthorized',
  404: '404 Not Found',
  405: '405 Method Not Allowed',
  408: '408 Request Timeout',
  411: '411 Length Required',
  413: '413 Payload Too Large',
  415: '415 Unsupported Media Type',
  429: '429 Too Many Requests',
  500: '500 Internal Server Error',
  503: '503 Service Unavailable',
};


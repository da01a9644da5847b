// The admin API's routes: method + path pattern (`/admin/triggers/:id`) → handler. A path that
// matches no pattern is 404; one that matches with another method is 405 with the methods it
// takes. Handlers get the decoded path parameters, the query and the parsed JSON body.
import { ReboundError } from '../core/errors.js';

export interface AdminRequest {
  method: string;
  path: string;
  params: Record<string, string>;
  query: URLSearchParams;
  /** The parsed JSON body; undefined when there was none. */
  body: unknown;
}

export interface AdminReply {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

export type Handler = (request: AdminRequest) => Promise<AdminReply>;

interface Route {
  method: string;
  pattern: string[];
  handler: Handler;
}

export type RouteMatch = { handler: Handler; params: Record<string, string> } | { allowed: string[] };

export const json = (body: unknown, status = 200): AdminReply => ({ status, body });

export class Router {
  readonly #routes: Route[] = [];

  add(method: string, path: string, handler: Handler): this {
    this.#routes.push({ method, pattern: path.split('/').slice(1), handler });
    return this;
  }

  /** The handler of a request, or the methods the path takes (none: not found). */
  match(method: string, path: string): RouteMatch {
    const segments = splitPath(path);
    const allowed: string[] = [];
    for (const route of this.#routes) {
      const params = matchPattern(route.pattern, segments);
      if (params === undefined) continue;
      if (route.method === method) return { handler: route.handler, params };
      allowed.push(route.method);
    }
    return { allowed };
  }
}

function splitPath(path: string): string[] {
  const segments = path.split('/').slice(1);
  if (segments.length > 1 && segments[segments.length - 1] === '') segments.pop(); // a trailing slash
  try {
    return segments.map((segment) => decodeURIComponent(segment));
  } catch {
    throw new ReboundError('ADMIN_ROUTE_NOT_FOUND', `${path}: bad percent-encoding in the path`);
  }
}

function matchPattern(pattern: string[], segments: string[]): Record<string, string> | undefined {
  if (pattern.length !== segments.length) return undefined;
  const params: Record<string, string> = {};
  for (let i = 0; i < pattern.length; i++) {
    const expected = pattern[i] as string;
    const actual = segments[i] as string;
    if (expected.startsWith(':')) {
      if (actual === '') return undefined;
      params[expected.slice(1)] = actual;
    } else if (expected !== actual) return undefined;
  }
  return params;
}

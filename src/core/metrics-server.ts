// The metrics port of a process, whatever its roles: GET /metrics (the registry in Prometheus text
// format) and GET /status (JSON: what `rebound status` merges over the live processes;
// `?streams=0` leaves out the installation's streams, which the CLI reads itself).
// Anything else answers 404 METRICS_ROUTE_NOT_FOUND.
import { createServer, type ServerResponse } from 'node:http';
import { ReboundError, asReboundError } from './errors.js';
import { metricsRegistry } from './metrics.js';

export interface MetricsServerHooks {
  /** Runs before every scrape, e.g. to refresh gauges read from Redis; a failure does not fail the scrape. */
  beforeScrape?: () => Promise<void>;
  /** The body of GET /status, given the query string. */
  status?: (query: URLSearchParams) => Promise<unknown>;
}

export interface MetricsServer {
  /** `http://host:port/metrics`. */
  url: string;
  /** `http://host:port`. */
  baseUrl: string;
  port: number;
  close(): Promise<void>;
}

function sendJson(response: ServerResponse, status: number, body: unknown): void {
  response.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end(JSON.stringify(body));
}

async function metrics(hooks: MetricsServerHooks, response: ServerResponse): Promise<void> {
  await hooks.beforeScrape?.().catch(() => undefined);
  const text = await metricsRegistry.metrics();
  response.writeHead(200, { 'content-type': metricsRegistry.contentType }).end(text);
}

async function status(hooks: MetricsServerHooks, response: ServerResponse, query: URLSearchParams): Promise<void> {
  sendJson(response, 200, (await hooks.status?.(query)) ?? {});
}

export function startMetricsServer(host: string, port: number, hooks: MetricsServerHooks = {}): Promise<MetricsServer> {
  const server = createServer((request, response) => {
    const [path, search] = (request.url ?? '/').split('?', 2) as [string, string | undefined];
    const route = request.method !== 'GET' ? undefined : path === '/metrics' ? metrics : path === '/status' ? status : undefined;
    if (route === undefined) {
      sendJson(response, 404, new ReboundError('METRICS_ROUTE_NOT_FOUND', `no ${request.method ?? ''} ${path}; try GET /metrics or GET /status`).toJSON());
      return;
    }
    route(hooks, response, new URLSearchParams(search)).catch((err: unknown) => {
      const error = asReboundError(err);
      if (!response.headersSent) sendJson(response, 500, error.toJSON());
    });
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      const address = server.address() as { port: number };
      const shown = host.includes(':') ? `[${host}]` : host;
      const baseUrl = `http://${shown}:${address.port}`;
      resolve({
        url: `${baseUrl}/metrics`,
        baseUrl,
        port: address.port,
        close: () =>
          new Promise((done) => {
            server.close(() => done());
            server.closeAllConnections();
          }),
      });
    });
  });
}

// Serves the process's metrics registry at GET /metrics (Prometheus text format).
import { createServer } from 'node:http';
import { metricsRegistry } from './metrics.js';

export interface MetricsServer {
  url: string;
  close(): Promise<void>;
}

export function startMetricsServer(host: string, port: number): Promise<MetricsServer> {
  const server = createServer((request, response) => {
    if (request.method !== 'GET' || request.url !== '/metrics') {
      response.writeHead(404, { 'content-type': 'application/json' }).end('{"error":{"code":"NOT_FOUND","message":"try GET /metrics"}}');
      return;
    }
    metricsRegistry.metrics().then(
      (text) => response.writeHead(200, { 'content-type': metricsRegistry.contentType }).end(text),
      (err: Error) => response.writeHead(500).end(err.message),
    );
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      const address = server.address() as { port: number };
      resolve({
        url: `http://${host}:${address.port}/metrics`,
        close: () => new Promise((done) => server.close(() => done())),
      });
    });
  });
}

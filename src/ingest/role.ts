// The ingest role: sources, overload monitor, writer, routes and the listener, wired to the
// runtime; shutdown stops accepting, answers what is in flight, then flushes the writer.
import { randomBytes } from 'node:crypto';
import type { Runtime } from '../core/bootstrap.js';
import { ProfileStore } from '../model/profile-store.js';
import { registerLinks } from './links.js';
import { OverloadMonitor } from './overload.js';
import { registerRoutes } from './routes.js';
import { IngestServer } from './server.js';
import { observeRequest } from './metrics.js';
import { SourceRegistry } from './sources.js';
import { registerTriggers } from './triggers.js';
import { registerStream } from './websocket.js';
import { HitWriter } from './writer.js';

export interface IngestHandle {
  port: number;
  server: IngestServer;
  sources: SourceRegistry;
  monitor: OverloadMonitor;
  writer: HitWriter;
  close(): Promise<void>;
}

/** Starts ingest on `runtime` and registers its shutdown; resolves once listening. */
export async function createIngest(runtime: Runtime): Promise<IngestHandle> {
  const { config, redis, keys, logger } = runtime;
  const settings = config.ingest;
  const sources = new SourceRegistry(redis, keys, logger);
  await sources.start(settings.sourcesPoll);
  const monitor = new OverloadMonitor(redis, keys, { maxLag: settings.maxLag, maxRedisMemoryRatio: settings.maxRedisMemoryRatio, sampleMs: settings.overloadSample }, logger);
  await monitor.sample();
  monitor.start();
  const writer = new HitWriter(redis, keys, { flushHits: settings.flushHits, flushWindowMs: settings.flushWindow });
  const server = new IngestServer({
    host: settings.host,
    port: settings.port,
    maxInFlightBytes: settings.maxInFlightBytes,
    requestTimeoutMs: settings.requestTimeout,
    admit: () => monitor.check(),
    onReply: (route, request, reply, seconds) => observeRequest(route, reply.status, seconds, request.body.length),
  });
  const deps = { sources, writer, monitor, maxBodyBytes: settings.maxBodyBytes };
  registerRoutes(server, deps);
  registerTriggers(server, { sources, redis, keys });
  const secret = await redis.setIfAbsent(keys.linkSecret(), randomBytes(32).toString('base64url'));
  registerLinks(server, { redis, keys, secret, profiles: new ProfileStore(redis, keys, config.campaign.indexedFields), visitorTtlMs: config.detect.visitorTtl });
  registerStream(server, deps, { maxFrameBytes: settings.maxBodyBytes, maxConnectionInFlightBytes: settings.maxConnectionInFlightBytes, idleTimeoutMs: settings.idleTimeout });
  const port = await server.listen();
  logger.info({ host: settings.host, port }, 'ingest listening');
  let closed: Promise<void> | undefined;
  const close = (): Promise<void> =>
    (closed ??= (async () => {
      await server.close();
      await writer.drain();
      sources.stop();
      monitor.stop();
    })());
  runtime.lifecycle.onShutdown('ingest', close);
  return { port, server, sources, monitor, writer, close };
}

/** The `ingest` role starter of src/cli/roles.ts. */
export async function startIngest(runtime: Runtime): Promise<void> {
  await createIngest(runtime);
}

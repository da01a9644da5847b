// The admin role: the bearer token (configured, stored or generated), the routes, and the HTTP
// listener on `admin.host:admin.port`; shutdown stops accepting and lets requests in flight end.
import type { Runtime } from '../core/bootstrap.js';
import { resolveAdminToken } from './auth.js';
import { ProfileStore } from '../model/profile-store.js';
import { registerDataRoutes } from './routes-data.js';
import { registerDefinitionRoutes } from './routes-definitions.js';
import { registerLifecycleRoutes } from './routes-lifecycle.js';
import { registerOperationRoutes } from './routes-operations.js';
import { Router } from './router.js';
import { startAdminServer, type AdminServer } from './server.js';

/** Every route of the admin API over a runtime's Redis. */
export function adminRouter(runtime: Pick<Runtime, 'redis' | 'keys' | 'config'>): Router {
  const { redis, keys, config } = runtime;
  const router = new Router();
  registerDefinitionRoutes(router, () => ({ redis, keys, now: Date.now(), smsMaxSegments: config.campaign.smsMaxSegments }));
  registerOperationRoutes(router, { redis, keys, imsOrg: config.detect.imsOrg });
  registerLifecycleRoutes(router, { redis, keys, smsMaxSegments: config.campaign.smsMaxSegments });
  registerDataRoutes(router, { redis, keys, profiles: new ProfileStore(redis, keys, config.campaign.indexedFields) });
  return router;
}

/** Starts the admin API on `runtime` and registers its shutdown; resolves once listening. */
export async function createAdmin(runtime: Runtime): Promise<AdminServer> {
  const { config, logger } = runtime;
  const token = resolveAdminToken(config.admin.token, config.dataDir);
  if (token.origin !== 'config') logger.info({ tokenFile: token.origin, generated: token.generated }, 'admin API token (Authorization: Bearer <token>) is in this file');
  const server = await startAdminServer({
    host: config.admin.host,
    port: config.admin.port,
    token: token.token,
    maxBodyBytes: config.admin.maxBodyBytes,
    router: adminRouter(runtime),
    logger: logger.child({ role: 'admin' }),
  });
  logger.info({ host: config.admin.host, port: server.port, url: server.url }, 'admin listening');
  runtime.lifecycle.onShutdown('admin', () => server.close());
  return server;
}

/** The `admin` role starter of src/cli/roles.ts. */
export async function startAdmin(runtime: Runtime): Promise<void> {
  await createAdmin(runtime);
}

// The admin role: the bearer token (configured, stored or generated), the routes, and the HTTP
// listener on `admin.host:admin.port`; shutdown stops accepting and lets requests in flight end.
import { randomBytes } from 'node:crypto';
import type { Runtime } from '../core/bootstrap.js';
import { systemClock, type Clock } from '../core/clock.js';
import type { LinkSigner } from '../model/message-context.js';
import { ProfileStore } from '../model/profile-store.js';
import { getRows } from '../model/resource-store.js';
import { resolveAdminToken } from './auth.js';
import type { ProofDeps } from './proof.js';
import { registerDataRoutes } from './routes-data.js';
import { registerDefinitionRoutes } from './routes-definitions.js';
import { registerLifecycleRoutes } from './routes-lifecycle.js';
import { registerOperationRoutes } from './routes-operations.js';
import { registerPreviewRoutes } from './routes-preview.js';
import { registerReportRoutes } from './routes-reports.js';
import { Router } from './router.js';
import { startAdminServer, type AdminServer } from './server.js';

export interface AdminOptions {
  /** The clock of reports and proofs (tests move it). */
  clock?: Clock;
}

type AdminRuntime = Pick<Runtime, 'redis' | 'keys' | 'config'>;

/** What previews and proofs render with: resource rows read through, links signed with the installation's secret. */
function proofDeps({ redis, keys, config }: AdminRuntime, clock: Clock): ProofDeps {
  let signer: Promise<LinkSigner> | undefined;
  const links = (): Promise<LinkSigner> =>
    (signer ??= redis.setIfAbsent(keys.linkSecret(), randomBytes(32).toString('base64url')).then(
      (secret) => ({ publicUrl: config.campaign.publicUrl, secret }),
      (err: unknown) => {
        signer = undefined; // a Redis blip: try again on the next request
        throw err;
      },
    ));
  return {
    redis,
    keys,
    resources: { getMany: (name, rowKeys) => getRows(redis, keys, name, rowKeys) },
    links,
    smsMaxSegments: config.campaign.smsMaxSegments,
    recordRetentionMs: config.campaign.recordRetention,
    now: () => clock.now(),
  };
}

/** Every route of the admin API over a runtime's Redis. */
export function adminRouter(runtime: AdminRuntime, options: AdminOptions = {}): Router {
  const { redis, keys, config } = runtime;
  const clock = options.clock ?? systemClock;
  const profiles = new ProfileStore(redis, keys, config.campaign.indexedFields);
  const router = new Router();
  registerDefinitionRoutes(router, () => ({ redis, keys, now: Date.now(), smsMaxSegments: config.campaign.smsMaxSegments }));
  registerOperationRoutes(router, { redis, keys, imsOrg: config.detect.imsOrg });
  registerLifecycleRoutes(router, { redis, keys, smsMaxSegments: config.campaign.smsMaxSegments });
  registerDataRoutes(router, { redis, keys, profiles });
  registerPreviewRoutes(router, proofDeps(runtime, clock));
  registerReportRoutes(router, { redis, keys, profiles, now: () => clock.now() });
  return router;
}

/** Starts the admin API on `runtime` and registers its shutdown; resolves once listening. */
export async function createAdmin(runtime: Runtime, options: AdminOptions = {}): Promise<AdminServer> {
  const { config, logger } = runtime;
  const token = resolveAdminToken(config.admin.token, config.dataDir);
  if (token.origin !== 'config') logger.info({ tokenFile: token.origin, generated: token.generated }, 'admin API token (Authorization: Bearer <token>) is in this file');
  const server = await startAdminServer({
    host: config.admin.host,
    port: config.admin.port,
    token: token.token,
    maxBodyBytes: config.admin.maxBodyBytes,
    router: adminRouter(runtime, options),
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

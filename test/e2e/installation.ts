// One Rebound installation for the e2e suites, deployed as an operator would: the admin process
// first, the shop applied and imported through it, then two processes of every other role —
// ingest ×2 each on its own port, detect ×2, campaign ×2, deliver ×2 sending to the test's SMTP
// and SMPP servers. The processes start after the definitions exist, so none has to wait for a
// definitions reload before the first hit.
import { freePort } from '../support/redis-server.js';
import { Fleet, type RoleProcess } from './rebound-processes.js';
import { adminToken, e2eConfig, installShop, tempDir } from './shop-setup.js';

export interface InstallationOptions {
  /** REBOUND_REDIS_URL or REBOUND_REDIS_CLUSTER. */
  redisEnv: Record<string, string>;
  prefix: string;
  definitions: string;
  smtpUrl: string;
  smppUrl: string;
  config?: Parameters<typeof e2eConfig>[0];
}

export interface Installation {
  fleet: Fleet;
  adminUrl: string;
  ingestUrls: string[];
  /** /metrics of the two deliver processes (each on its own port, kept by a restart). */
  deliverMetricsUrls: string[];
  /** What `rebound apply` and `rebound import` printed last. */
  setupLog: string[];
  /** The running process of a role (the n-th one started, or its restart). */
  byRole(role: RoleProcess['role']): RoleProcess[];
}

export async function startInstallation(options: InstallationOptions): Promise<Installation> {
  const [adminPort, ingestPort1, ingestPort2, deliverMetricsPort1, deliverMetricsPort2] = await Promise.all([freePort(), freePort(), freePort(), freePort(), freePort()]);
  const ingestPorts = [ingestPort1 as number, ingestPort2 as number];
  const deliverMetricsPorts = [deliverMetricsPort1 as number, deliverMetricsPort2 as number];
  const adminUrl = `http://127.0.0.1:${adminPort}`;
  const env = { ...options.redisEnv, REBOUND_CONFIG: e2eConfig(options.config), REBOUND_PREFIX: options.prefix, REBOUND_ADMIN_TOKEN: adminToken, REBOUND_DATA_DIR: tempDir('data') };
  const fleet = new Fleet(env);
  const installation: Installation = {
    fleet,
    adminUrl,
    ingestUrls: ingestPorts.map((port) => `http://127.0.0.1:${port}`),
    deliverMetricsUrls: deliverMetricsPorts.map((port) => `http://127.0.0.1:${port}/metrics`),
    setupLog: [],
    byRole: (role) => fleet.processes.filter((p) => p.role === role && p.running()),
  };
  try {
    await fleet.start('admin', { REBOUND_ADMIN_PORT: String(adminPort) });
    installation.setupLog = await installShop(options.definitions, adminUrl, env);
    const deliverEnv = { REBOUND_SMTP_URL: options.smtpUrl, REBOUND_SMPP_URL: options.smppUrl };
    await Promise.all([
      ...ingestPorts.map((port) => fleet.start('ingest', { REBOUND_INGEST_PORT: String(port) })),
      ...(['detect', 'detect', 'campaign', 'campaign'] as const).map((role) => fleet.start(role)),
      ...deliverMetricsPorts.map((port) => fleet.start('deliver', { ...deliverEnv, REBOUND_METRICS_PORT: String(port) })),
    ]);
  } catch (err) {
    await fleet.stopAll(5000);
    throw err;
  }
  return installation;
}

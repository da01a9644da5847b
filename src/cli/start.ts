// `rebound start`: load the configuration, bootstrap Redis (embedded when none is configured),
// serve /metrics and /status, run the chosen roles, and drain on SIGTERM/SIGINT.
import { bootstrap, exitOnSignals } from '../core/bootstrap.js';
import { loadConfig } from '../core/config.js';
import { ReboundError } from '../core/errors.js';
import { createLogger } from '../core/log.js';
import { startObservability } from '../stages/runtime/observability.js';
import { firstStart } from './first-start.js';
import { availableRoles, roleNames, roleStarters, type RoleName } from './roles.js';

const startOrder: readonly RoleName[] = ['deliver', 'campaign', 'detect', 'admin', 'ingest'];

export interface StartOptions {
  roles?: string;
  config?: string;
}

export function parseRoles(text: string | undefined): RoleName[] {
  if (text === undefined) return availableRoles();
  const asked = text.split(',').map((role) => role.trim()).filter(Boolean);
  const unknown = asked.filter((role) => !(roleNames as readonly string[]).includes(role));
  if (unknown.length > 0 || asked.length === 0) {
    throw new ReboundError('CLI_ROLE_UNKNOWN', `unknown role ${unknown.map((r) => `"${r}"`).join(', ') || '(none given)'}; valid roles: ${roleNames.join(', ')}`);
  }
  const missing = asked.filter((role) => roleStarters[role as RoleName] === null);
  if (missing.length > 0) {
    throw new ReboundError('CLI_ROLE_UNKNOWN', `role ${missing.join(', ')} is not available in this build; available: ${availableRoles().join(', ') || 'none yet'}`);
  }
  return asked as RoleName[];
}

export async function start(options: StartOptions): Promise<void> {
  const config = loadConfig(options.config === undefined ? {} : { file: options.config });
  const roles = parseRoles(options.roles);
  const logger = createLogger(config.log.level);
  const runtime = await bootstrap(config, logger);
  exitOnSignals(runtime.lifecycle, config.shutdownTimeout, logger);
  // The demo shop on a fresh embedded installation, before any role reads the definitions.
  await firstStart(runtime);
  const observability = await startObservability(runtime, roles);
  // Consumers start first and producers last, so that shutdown (steps run in reverse) stops
  // accepting hits before it drains the stages behind them.
  const ordered = [...roles].sort((a, b) => startOrder.indexOf(a) - startOrder.indexOf(b));
  for (const role of ordered) await (roleStarters[role] as NonNullable<(typeof roleStarters)[RoleName]>)(runtime);
  await observability.announce();
  logger.info({ roles, dataDir: config.dataDir }, roles.length > 0 ? 'Rebound started' : 'Rebound started with no role available yet');
}

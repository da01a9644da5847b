// The roles of SPEC §1 and what starts each. A role module registers its own shutdown steps
// with the runtime's lifecycle. A role whose capability has not landed yet is null: asking for
// it explicitly is refused with exit 2, and `start` without --roles runs the ones that exist.
import { startAdmin } from '../admin/role.js';
import { createChannels } from '../channels/create-channels.js';
import type { Runtime } from '../core/bootstrap.js';
import { startIngest } from '../ingest/role.js';
import { startCampaign } from '../stages/campaign/role.js';
import { startDetect } from '../stages/detect/role.js';
import { startDeliver } from '../stages/deliver/role.js';

export const roleNames = ['ingest', 'detect', 'campaign', 'deliver', 'admin'] as const;
export type RoleName = (typeof roleNames)[number];
/** Starts a role in the runtime; what it resolves to (if anything) is for tests, not the CLI. */
export type RoleStarter = (runtime: Runtime) => Promise<unknown>;

export const roleStarters: Record<RoleName, RoleStarter | null> = {
  ingest: startIngest,
  detect: startDetect,
  campaign: (runtime) => startCampaign(runtime),
  deliver: (runtime) => startDeliver(runtime, createChannels(runtime.config.deliver, runtime.config.dataDir, runtime.logger)),
  admin: startAdmin,
};

export function availableRoles(): RoleName[] {
  return roleNames.filter((name) => roleStarters[name] !== null);
}

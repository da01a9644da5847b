// A whole shop in-process for the preview, proof and report tests: the campaign role on the demo
// shop's cart email (test/campaign/campaign-harness.ts), the deliver role sending email to a real
// SMTP server (or the file outbox) and SMS to the file outbox, and the admin API on the same
// runtime; optionally the detect role (so trigger messages are fired by real timers).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AdminOptions } from '../../src/admin/role.js';
import { createChannels } from '../../src/channels/create-channels.js';
import type { Runtime } from '../../src/core/bootstrap.js';
import { createLogger } from '../../src/core/log.js';
import { startDeliver } from '../../src/stages/deliver/role.js';
import { defineShop, startCampaignHarness, type CampaignHarness } from '../campaign/campaign-harness.js';
import { startSmtpTestServer, type SmtpTestServer } from '../deliver/smtp-test-server.js';
import { serveAdmin, type RedisTarget, type ServedAdmin } from './admin-helpers.js';

export interface ShopStack {
  shop: CampaignHarness;
  admin: ServedAdmin;
  /** The SMTP server emails arrive at, when asked for. */
  smtp: SmtpTestServer | undefined;
  close(): Promise<void>;
}

export interface ShopStackOptions {
  redis: string | RedisTarget;
  /** Overrides of the shop's cart email event (e.g. fatigue rules). */
  event?: Record<string, unknown>;
  smtp?: boolean;
  /** Definitions and roles set up before the campaign role starts (sources, triggers, detect). */
  before?: (runtime: Runtime) => Promise<void>;
  admin?: AdminOptions;
}

export async function startShopStack(options: ShopStackOptions): Promise<ShopStack> {
  const outboxDir = mkdtempSync(join(tmpdir(), 'rebound-shop-'));
  const smtp = options.smtp === true ? await startSmtpTestServer() : undefined;
  const redis = typeof options.redis === 'string' ? options.redis : options.redis.cluster !== undefined ? { cluster: options.redis.cluster } : { url: options.redis.url ?? '' };
  const shop = await startCampaignHarness(redis, {
    before: async (runtime) => {
      await options.before?.(runtime);
      await defineShop(runtime, options.event === undefined ? {} : { event: options.event });
    },
  });
  const { config } = shop.runtime;
  const deliver = { ...config.deliver, smtp: { ...config.deliver.smtp, url: smtp?.url ?? null } };
  await startDeliver(shop.runtime, createChannels(deliver, outboxDir, createLogger('silent')));
  const admin = await serveAdmin(shop.runtime, options.admin);
  return {
    shop,
    admin,
    smtp,
    async close() {
      await admin.close();
      await shop.close();
      await smtp?.stop();
      rmSync(outboxDir, { recursive: true, force: true });
    },
  };
}

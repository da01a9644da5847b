// Builds the channel of each message channel from the `deliver` configuration (SPEC §1, §7):
// email through SMTP when `deliver.smtp.url` (REBOUND_SMTP_URL) is set, else the .eml file
// outbox; SMS through SMPP when `deliver.smpp.url` is set, else the webhook when
// `deliver.webhook.url` is, else the JSON file outbox. Files named by the configuration (CA,
// DKIM key) are read once here; a missing one stops the start with its key path.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ReboundConfig } from '../core/config-schema.js';
import { ReboundError } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import type { Channels } from '../model/channel.js';
import { SmtpChannel } from './email-smtp.js';
import { EmailFileOutbox, SmsFileOutbox } from './file-outbox.js';
import { SmppChannel } from './sms-smpp.js';
import { WebhookSmsChannel } from './sms-webhook.js';

type DeliverConfig = ReboundConfig['deliver'];

function readConfigured(file: string, key: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw new ReboundError('CONFIG_FILE_UNREADABLE', `${key}: cannot read ${file}: ${(err as Error).message}`, { cause: err, path: key });
  }
}

/** A URL without its credentials, for logs. */
export function displayUrl(url: string): string {
  const parsed = new URL(url);
  return `${parsed.protocol}//${parsed.host}`;
}

function emailChannel(config: DeliverConfig, dataDir: string, logger: Logger): Channels['email'] {
  const { smtp } = config;
  if (smtp.url === null) {
    const dir = join(dataDir, 'outbox', 'email');
    logger.info({ dir }, 'emails are written to the file outbox (no deliver.smtp.url / REBOUND_SMTP_URL)');
    return new EmailFileOutbox(dir, config.defaultFrom);
  }
  const dkim = smtp.dkim === null ? null : { domainName: smtp.dkim.domainName, keySelector: smtp.dkim.keySelector, privateKey: readConfigured(smtp.dkim.privateKeyFile, 'deliver.smtp.dkim.privateKeyFile') };
  logger.info({ smtp: displayUrl(smtp.url), fallback: smtp.fallbackUrl === null ? null : displayUrl(smtp.fallbackUrl), connections: smtp.pool.maxConnections }, 'emails go to SMTP');
  return new SmtpChannel({
    url: smtp.url,
    fallbackUrl: smtp.fallbackUrl,
    ca: smtp.ca === null ? null : readConfigured(smtp.ca, 'deliver.smtp.ca'),
    pool: { maxConnections: smtp.pool.maxConnections, maxMessages: smtp.pool.maxMessages, rateDeltaMs: smtp.pool.rateDelta, rateLimit: smtp.pool.rateLimit },
    dkim,
    timeoutMs: config.sendTimeout,
    breaker: { failures: smtp.breaker.failures, coolDownMs: smtp.breaker.coolDown },
    defaultFrom: config.defaultFrom,
  });
}

function smsChannel(config: DeliverConfig, dataDir: string, logger: Logger): Channels['sms'] {
  const { smpp, webhook } = config;
  if (smpp.url !== null) {
    logger.info({ smpp: displayUrl(smpp.url), window: smpp.window }, 'SMS go to SMPP');
    const reconnect = { baseMs: smpp.reconnect.base, capMs: smpp.reconnect.max };
    return new SmppChannel({ url: smpp.url, sourceAddr: smpp.sourceAddr, enquireLinkMs: smpp.enquireLink, reconnect, timeoutMs: config.sendTimeout, window: smpp.window }, logger.child({ channel: 'smpp' }));
  }
  if (webhook.url !== null && webhook.secret !== null) {
    logger.info({ webhook: displayUrl(webhook.url) }, 'SMS go to the webhook gateway');
    return new WebhookSmsChannel({ url: webhook.url, secret: webhook.secret, timeoutMs: config.sendTimeout });
  }
  const dir = join(dataDir, 'outbox', 'sms');
  logger.info({ dir }, 'SMS are written to the file outbox (no SMPP or webhook URL)');
  return new SmsFileOutbox(dir);
}

export function createChannels(config: DeliverConfig, dataDir: string, logger: Logger): Channels {
  const email = emailChannel(config, dataDir, logger);
  return { email, sms: smsChannel(config, dataDir, logger) };
}

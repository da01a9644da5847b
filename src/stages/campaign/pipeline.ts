// One campaign job — a trigger message handled by one event — from receipt to its outcome
// (SPEC §6): validity, reconciliation (or the payload's recipient), typology, enrichment, the
// `converted` re-check, fatigue and rendering. The outcome is written by commit.ts together with
// the removal of the job's input, so nothing here writes except the fatigue reservation, which is
// idempotent per message id. Reads that do not depend on each other are made together, so that a
// batch's jobs wait for as few round trips as possible: reconciliation while the visitor is read
// (reconcile.ts), the suppression check with the enrichment.
import { ReboundError } from '../../core/errors.js';
import type { RedisPort } from '../../core/redis/client.js';
import type { Keys } from '../../core/redis/keys.js';
import type { CampaignEvent } from '../../model/campaign-definitions.js';
import { buildContext, enrich, readRecipient, trackLinks, type LinkSigner, type ResourceLookup } from '../../model/message-context.js';
import type { MessageStatus, OutboxMessage } from '../../model/message.js';
import type { Profile } from '../../model/profile.js';
import { normalizeEmail, normalizePhone } from '../../model/profile-values.js';
import { smsInfo } from '../../model/sms-encoding.js';
import type { FiredRecord } from '../../model/trigger-message.js';
import { reconcileWithVisitor, type IdentityLookups } from './reconcile.js';
import { checkFatigue, quietUntil } from './typology.js';
import type { VisitorSnapshot } from './visitor.js';

export interface Job {
  messageId: string;
  event: CampaignEvent;
  record: FiredRecord;
  /** The trigger log entry as stored (kept while the job waits, dead-lettered on a render error). */
  fired: Buffer;
  receivedAt: number;
  /** How many times the job has waited for an identity already. */
  waits: number;
  /** The visitor as it is now (read for the whole batch at once; the job starts before it is in). */
  visitor: Promise<VisitorSnapshot>;
}

export type Outcome =
  | { kind: 'final'; status: Exclude<MessageStatus, 'pending' | 'paused' | 'processing'>; reason?: string; fields: RecordFields; error?: string }
  | { kind: 'outbox'; message: OutboxMessage; fields: RecordFields }
  | { kind: 'wait'; status: 'pending' | 'paused'; reason: string; until: number; fields: RecordFields };

export type RecordFields = Record<string, string | number>;

export interface PipelineDeps {
  redis: RedisPort;
  keys: Keys;
  identity: IdentityLookups;
  resources: ResourceLookup;
  suppressed(addresses: readonly string[]): Promise<Set<string>>;
  defaultTimezone: string;
  links: LinkSigner;
  /** Wait before looking again for a late identity, by attempt (capped). */
  identityWaitMs(attempt: number): number;
}

/** Record fields every outcome carries (the record is written whole each time). */
function baseFields(job: Job): RecordFields {
  const { record, event } = job;
  return {
    id: job.messageId,
    eventId: event.id,
    triggerId: record.triggerId,
    triggerName: record.triggerName,
    channel: event.channel,
    visitorId: record.visitorId,
    firstHitAt: record.firstHitTs,
    lastHitAt: record.lastHitTs,
    firedAt: record.firedAt,
    receivedAt: job.receivedAt,
  };
}

export async function runJob(job: Job, now: number, deps: PipelineDeps): Promise<Outcome> {
  const { event, record } = job;
  const fields = baseFields(job);
  const final = (status: Exclude<MessageStatus, 'pending' | 'paused' | 'processing'>, reason?: string, error?: string): Outcome => ({
    kind: 'final',
    status,
    ...(reason === undefined ? {} : { reason }),
    ...(error === undefined ? {} : { error }),
    fields,
  });
  const expiresAt = record.firedAt + event.validityMs;
  if (now > expiresAt) return final('tooOld');
  if (event.status === 'paused') return { kind: 'wait', status: 'paused', reason: 'eventPaused', until: expiresAt, fields };
  const template = event.template;
  if (template === undefined) return final('routingFailed', 'templateUnpublished');

  let profile: Profile | undefined;
  let address: string | undefined;
  if (event.targeting === 'profile') {
    const found = await reconcileWithVisitor(event.reconciliation, record.aliases, job.visitor, deps.identity);
    if (!found.ok) {
      if (found.reason !== 'ambiguous') {
        const until = now + deps.identityWaitMs(job.waits);
        if (until < expiresAt) return { kind: 'wait', status: 'pending', reason: 'awaitingIdentity', until, fields };
      }
      return final('targetingFailed', found.reason);
    }
    profile = found.profile;
    fields.profileId = profile.id;
    fields.reconciledAt = now;
    address = event.channel === 'email' ? profile.email : profile.phone;
    if (address === undefined || address === '') return final('targetingFailed', 'noAddress');
    if (profile.denylisted === true) return final('ignored', 'denylist');
    if ((event.channel === 'email' ? profile.emailOptOut : profile.smsOptOut) === true) return final('ignored', 'optOut');
  }

  const context = buildContext(record, event, profile, deps.links);
  if (event.targeting === 'event') {
    address = readRecipient(event, context);
    if (address === undefined) return final('targetingFailed', 'aliasMissing');
    fields.reconciledAt = now;
  }
  // The stored form of the address: what profiles hold and what the suppression list matches.
  const to = (event.channel === 'email' ? normalizeEmail : normalizePhone)(address as string);
  if (to === undefined) return final('targetingFailed', 'noAddress');
  fields.to = to;
  // Both read at once; the suppression decides first (enrich only adds to the context).
  const [suppressed, enriched] = await Promise.all([deps.suppressed([to]), enrich(event, context, deps.resources)]);
  if (suppressed.has(to)) return final('ignored', 'suppressed');
  if (!enriched.ok) return final('targetingFailed', 'enrichmentMissing');

  if (profile !== undefined && event.quietHours !== undefined) {
    const until = quietUntil(event.quietHours, now, profile.timezone ?? deps.defaultTimezone);
    if (until !== undefined) {
      if (event.quietHours.action === 'drop') return final('ignored', 'quietHours');
      if (until >= expiresAt) return final('tooOld');
      return { kind: 'wait', status: 'pending', reason: 'quietHours', until, fields };
    }
  }
  if ((await job.visitor).converted) return final('ignored', 'converted');
  if (profile !== undefined && event.fatigue.length > 0) {
    const rule = await checkFatigue(deps.redis, deps.keys, profile.id, job.messageId, event.channel, event.fatigue, now);
    if (rule !== undefined) return final('ignored', 'fatigue');
  }

  let rendered;
  try {
    rendered = template.compiled.render(enriched.context, profile?.locale ?? latestDim(record, 'AC_language'));
  } catch (err) {
    const error = err instanceof ReboundError ? `${err.code}: ${err.message}` : String(err);
    return final('deliveryFailed', 'renderFailed', error);
  }
  fields.templateVersion = template.version;
  fields.renderedAt = now;
  const message: OutboxMessage = {
    id: job.messageId,
    eventId: event.id,
    triggerId: record.triggerId,
    channel: event.channel,
    templateId: template.id,
    templateVersion: template.version,
    to,
    firedAt: record.firedAt,
    expiresAt,
    ...(profile === undefined ? {} : { profileId: profile.id }),
  };
  if (event.channel === 'email') {
    if (template.from !== undefined) message.from = template.from;
    if (template.replyTo !== undefined) message.replyTo = template.replyTo;
    if (rendered.subject !== undefined) message.subject = rendered.subject;
    if (rendered.html !== undefined) message.html = profile === undefined ? rendered.html : trackLinks(rendered.html, deps.links, profile.id);
    if (rendered.text !== undefined) message.text = rendered.text;
    const unsubscribe = enriched.context.links.unsubscribe;
    if (unsubscribe !== undefined) message.headers = { 'List-Unsubscribe': `<${unsubscribe}>`, 'List-Unsubscribe-Post': 'List-Unsubscribe=One-Click' };
  } else {
    const text = rendered.text ?? '';
    message.text = text;
    const info = smsInfo(text);
    message.sms = { encoding: info.encoding, segments: info.segments };
  }
  return { kind: 'outbox', message, fields };
}

function latestDim(record: FiredRecord, name: string): string | undefined {
  const values = Object.hasOwn(record.metadata, name) ? record.metadata[name] : undefined;
  const last = values?.[values.length - 1];
  return last === undefined ? undefined : String(last);
}

// Proofs (SPEC §6.6): a template rendered for a test profile (preview.ts) and sent through the
// real channel to the test profile's address, subject (or SMS text) prefixed `[PROOF] `. The
// proof is an OutboxMessage with `proof: true`, a fresh id and one hour to be sent, appended to
// the outbox of the test profile's partition with a record in `processing` (lua/proof-append-2.lua),
// so the deliver role sends it like any message and its outcome can be read back
// (GET /admin/messages/{id}). No fatigue is reserved and no profile history is written: a proof
// never counts toward a customer's fatigue.
import { randomUUID } from 'node:crypto';
import { encode } from '../core/codec.js';
import { ReboundError } from '../core/errors.js';
import { outboxStream, type ChannelName, type OutboxMessage } from '../model/message.js';
import type { Profile } from '../model/profile.js';
import { smsInfo } from '../model/sms-encoding.js';
import type { StoredTestProfile } from '../model/test-profile.js';
import { renderPreview, type Preview, type PreviewDeps } from './preview.js';

export interface ProofDeps extends PreviewDeps {
  recordRetentionMs: number;
}

export interface ProofRequest {
  templateId: string;
  version?: number;
  testProfile: string;
}

export interface ProofSent {
  id: string;
  partition: number;
  channel: ChannelName;
  to: string;
  status: 'processing';
  /** Where the outcome can be read. */
  record: string;
  preview: Preview;
}

/** The event id, trigger id and trigger name of a proof's record and message. */
export const proofEventId = 'proof';
export const proofPrefix = '[PROOF] ';
const proofValidityMs = 3_600_000;

/** The test profile's address on the template's channel (its `address`, else its profile's email or phone). */
function addressOf(channel: ChannelName, testProfile: StoredTestProfile, profile: Profile): string {
  const wanted = channel === 'email' ? 'email' : 'phone';
  const address = testProfile.addressKind === wanted ? testProfile.address : profile[wanted];
  if (address === undefined || address === '') {
    throw new ReboundError('PROOF_ADDRESS_MISSING', `test profile ${testProfile.id} has no ${wanted === 'email' ? 'email address' : 'phone number'} for this ${channel} template: give it as its address or in its profile (${wanted})`, { path: 'testProfile' });
  }
  return wanted === 'email' ? address.trim().toLowerCase() : address.replace(/[^\d+]/g, '');
}

function messageOf(preview: Preview, base: OutboxMessage): OutboxMessage {
  const message = { ...base };
  if (base.channel === 'email') {
    if (preview.template.from !== undefined) message.from = preview.template.from;
    if (preview.template.replyTo !== undefined) message.replyTo = preview.template.replyTo;
    message.subject = `${proofPrefix}${preview.subject ?? ''}`.trim();
    if (preview.html !== undefined) message.html = preview.html;
    if (preview.text !== undefined) message.text = preview.text;
    if (preview.headers !== undefined) message.headers = preview.headers;
  } else {
    message.text = `${proofPrefix}${preview.text ?? ''}`;
    const info = smsInfo(message.text);
    message.sms = { encoding: info.encoding, segments: info.segments };
  }
  return message;
}

export async function sendProof(deps: ProofDeps, request: ProofRequest): Promise<ProofSent> {
  const { preview, testProfile, profile } = await renderPreview(deps, { templateId: request.templateId, testProfile: request.testProfile, ...(request.version === undefined ? {} : { version: request.version }) });
  const tp = testProfile as StoredTestProfile;
  const channel = preview.template.channel;
  const to = addressOf(channel, tp, profile);
  const now = deps.now();
  const id = randomUUID();
  const partition = deps.keys.partitionOf(tp.id);
  const templateVersion = request.version ?? 0; // 0: the draft
  const base: OutboxMessage = { id, eventId: proofEventId, triggerId: proofEventId, channel, templateId: request.templateId, templateVersion, to, firedAt: now, expiresAt: now + proofValidityMs, proof: true };
  const message = messageOf(preview, base);
  const fields: Record<string, string | number> = {
    id, status: 'processing', eventId: proofEventId, triggerId: proofEventId, triggerName: proofEventId, channel, to, visitorId: `test:${tp.id}`,
    templateId: request.templateId, templateVersion, testProfile: tp.id, proof: 1, firedAt: now, receivedAt: now, renderedAt: now,
  };
  const keys = [deps.keys.message(partition, id), deps.keys.stream(partition, outboxStream(channel))];
  await deps.redis.script('reboundProofAppend', keys, [deps.recordRetentionMs, encode(message), ...Object.entries(fields).flat()]);
  return { id, partition, channel, to, status: 'processing', record: `/admin/messages/${id}?partition=${partition}`, preview };
}

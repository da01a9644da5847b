// Template previews (SPEC §6.6): a template's draft (or one frozen version) rendered for a test
// profile, or for profile and ctx data given in the request, with an event's enrichment applied
// and links signed as production signs them (model/message-context.ts), so that a preview shows
// the message a customer would get. The tracked and unsubscribe links name `test:<who>`, never a
// real profile, so clicking them in a proof changes nobody. proof.ts sends what this renders.
import { ReboundError } from '../core/errors.js';
import type { RedisPort } from '../core/redis/client.js';
import type { Keys } from '../core/redis/keys.js';
import { eventsUsingTemplate, getEvent, type StoredEvent } from '../model/event-store.js';
import { buildContext, enrich, trackLinks, type LinkSigner, type MessageContext, type ResourceLookup } from '../model/message-context.js';
import { parseProfile, type Profile } from '../model/profile.js';
import { compileTemplate } from '../model/render.js';
import { smsInfo, type SmsInfo } from '../model/sms-encoding.js';
import { parseTemplate, type TemplateDefinition } from '../model/template.js';
import { getTemplate, getTemplateVersion } from '../model/template-store.js';
import { getTestProfile, type StoredTestProfile } from '../model/test-profile.js';
import { previewRecord } from './preview-data.js';

export interface PreviewDeps {
  redis: RedisPort;
  keys: Keys;
  /** Resource rows as enrichment reads them (read through, no cache: a preview shows the latest rows). */
  resources: ResourceLookup;
  /** The installation's link signer (its secret is created on first use). */
  links(): Promise<LinkSigner>;
  smsMaxSegments: number;
  now(): number;
}

export interface PreviewRequest {
  templateId: string;
  /** A frozen version; undefined renders the draft. */
  version?: number;
  testProfile?: string;
  profile?: Record<string, unknown>;
  ctx?: Record<string, unknown>;
  /** The event whose enrichment applies; default: the published event sending this template. */
  event?: string;
}

export interface Preview {
  template: { id: string; channel: 'email' | 'sms'; version: number | null; from?: string; replyTo?: string };
  event: { id: string; trigger: string; targeting: 'profile' | 'event' } | null;
  testProfile: string | null;
  locale: string | null;
  subject?: string;
  html?: string;
  text?: string;
  headers?: Record<string, string>;
  sms?: SmsInfo & { maxSegments: number };
  /** What production would do differently (a required enrichment that found nothing, too many segments). */
  warnings: string[];
}

/** A preview, and what a proof needs besides it. */
export interface Rendered {
  preview: Preview;
  testProfile: StoredTestProfile | undefined;
  profile: Profile;
}

const notFound = (message: string): ReboundError => new ReboundError('DEFINITION_NOT_FOUND', message);

async function loadDefinition(deps: PreviewDeps, id: string, version: number | undefined): Promise<TemplateDefinition> {
  if (version === undefined) {
    const draft = await getTemplate(deps.redis, deps.keys, id);
    if (draft === undefined) throw notFound(`template ${id} does not exist`);
    return parseTemplate(draft.document, `template ${id}`);
  }
  const frozen = await getTemplateVersion(deps.redis, deps.keys, id, version);
  if (frozen === undefined) throw notFound(`template ${id} has no version ${version} (GET /admin/templates/${id}/versions lists them)`);
  return parseTemplate(frozen.document, `template ${id} version ${version}`);
}

const rank: Record<string, number> = { published: 0, paused: 1 };

async function chooseEvent(deps: PreviewDeps, templateId: string, requested: string | undefined): Promise<StoredEvent | undefined> {
  if (requested === undefined) {
    const using = await eventsUsingTemplate(deps.redis, deps.keys, templateId);
    return [...using].sort((a, b) => (rank[a.status] ?? 2) - (rank[b.status] ?? 2))[0];
  }
  const event = await getEvent(deps.redis, deps.keys, requested);
  if (event === undefined) throw notFound(`event ${requested} does not exist`);
  if (event.template !== templateId) throw new ReboundError('ADMIN_BODY_MALFORMED', `event: ${requested} sends template ${event.template}, not ${templateId}`);
  return event;
}

interface Data {
  who: string;
  fields: Record<string, unknown>;
  ctx: Record<string, unknown>;
  testProfile: StoredTestProfile | undefined;
}

async function loadData(deps: PreviewDeps, request: PreviewRequest): Promise<Data> {
  if (request.testProfile === undefined) return { who: 'preview', fields: request.profile ?? {}, ctx: request.ctx ?? {}, testProfile: undefined };
  const tp = await getTestProfile(deps.redis, deps.keys, request.testProfile);
  if (tp === undefined) throw notFound(`test profile ${request.testProfile} does not exist`);
  return { who: tp.id, fields: { [tp.addressKind]: tp.address, ...tp.profile }, ctx: { ...tp.event }, testProfile: tp };
}

function emailParts(preview: Preview, rendered: { subject?: string; html?: string; text?: string }, context: MessageContext, links: LinkSigner, linkId: string, tracked: boolean): void {
  if (rendered.subject !== undefined) preview.subject = rendered.subject;
  if (rendered.html !== undefined) preview.html = tracked ? trackLinks(rendered.html, links, linkId) : rendered.html;
  if (rendered.text !== undefined) preview.text = rendered.text;
  const unsubscribe = context.links.unsubscribe;
  if (unsubscribe !== undefined) preview.headers = { 'List-Unsubscribe': `<${unsubscribe}>`, 'List-Unsubscribe-Post': 'List-Unsubscribe=One-Click' };
}

function smsParts(preview: Preview, text: string, maxSegments: number): void {
  preview.text = text;
  preview.sms = { ...smsInfo(text), maxSegments };
  if (preview.sms.segments > maxSegments) preview.warnings.push(`the text needs ${preview.sms.segments} SMS segments; at most ${maxSegments} (campaign.smsMaxSegments): publishing refuses it`);
}

interface PreviewContext {
  context: MessageContext;
  links: LinkSigner;
  /** Who the links name: `test:<test profile>`. */
  linkId: string;
  /** Profile-based (or no event): the profile, its links and its locale apply. */
  byProfile: boolean;
  warnings: string[];
}

/** The template context production would build: trigger payload, profile, signed links, the event's enrichment. */
async function previewContext(deps: PreviewDeps, channel: TemplateDefinition['channel'], event: StoredEvent | undefined, data: Data, profile: Profile): Promise<PreviewContext> {
  const linkId = `test:${data.who}`;
  const byProfile = event === undefined || event.targeting === 'profile';
  const links = await deps.links();
  const record = previewRecord(data.ctx, event?.trigger ?? 'preview', deps.now(), linkId);
  const context = buildContext(record.fired, { id: event?.id ?? 'EVTpreview', channel }, byProfile ? { ...profile, id: linkId } : undefined, links);
  if (byProfile) context.profile = profile;
  Object.assign(context.ctx, record.extra);
  const warnings: string[] = [];
  const enriched = event === undefined ? undefined : await enrich(event, context, deps.resources);
  if (enriched?.ok === false) warnings.push(`the required enrichment ${enriched.missing} found nothing: production would record targetingFailed (enrichmentMissing) and send nothing`);
  return { context, links, linkId, byProfile, warnings };
}

/** Renders a preview; throws DEFINITION_NOT_FOUND, PROFILE_INVALID or TEMPLATE_RENDER_FAILED (422). */
export async function renderPreview(deps: PreviewDeps, request: PreviewRequest): Promise<Rendered> {
  const definition = await loadDefinition(deps, request.templateId, request.version);
  const [event, data] = await Promise.all([chooseEvent(deps, request.templateId, request.event), loadData(deps, request)]);
  const profile = parseProfile({ id: `test:${data.who}`, ...data.fields }, data.testProfile === undefined ? 'profile' : `test profile ${data.who}: profile`);
  const { context, links, linkId, byProfile, warnings } = await previewContext(deps, definition.channel, event, data, profile);
  const dimLocale = context.ctx.dims.AC_language;
  const locale = (byProfile ? profile.locale : undefined) ?? (dimLocale === undefined ? undefined : String(dimLocale));
  const rendered = compileTemplate(definition).render(context, locale);
  const { id, channel, from, replyTo } = definition;
  const preview: Preview = {
    template: { id, channel, version: request.version ?? null, ...(from === undefined ? {} : { from }), ...(replyTo === undefined ? {} : { replyTo }) },
    event: event === undefined ? null : { id: event.id, trigger: event.trigger, targeting: event.targeting },
    testProfile: data.testProfile?.id ?? null,
    locale: locale ?? null,
    warnings,
  };
  if (channel === 'email') emailParts(preview, rendered, context, links, linkId, byProfile);
  else smsParts(preview, rendered.text ?? '', deps.smsMaxSegments);
  return { preview, testProfile: data.testProfile, profile };
}

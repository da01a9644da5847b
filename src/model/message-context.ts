// The personalisation context of a message (SPEC §6.5) and its enrichment from the datamart
// (§6.3): `ctx` (the trigger payload), `profile`, `event`, `links`, and one entry per enrichment.
// Shared by the campaign stage and the admin API's preview, so that a preview renders exactly
// what production would. Paths are read through own properties only (never a prototype).
import { createHmac } from 'node:crypto';
import { readPath, type EventDefinition } from './event.js';
import type { Profile } from './profile.js';
import type { FiredRecord } from './trigger-message.js';

export interface ResourceLookup {
  /** Rows of resource `name` by key (undefined where there is none), in one round trip. */
  getMany(name: string, keys: readonly string[]): Promise<Map<string, Record<string, unknown> | undefined>>;
}

export interface MessageContext {
  ctx: {
    /** Per dimension its latest value; `summary` has every value of the session summary. */
    dims: Record<string, string | number | boolean>;
    summary: Record<string, Array<string | number | boolean>>;
    products: Array<Record<string, unknown>>;
    visitorId: string;
    firedAt: number;
    triggerName: string;
    aliases: Record<string, string>;
  };
  profile?: Profile;
  event: { id: string; trigger: string };
  links: { unsubscribe?: string };
  [enrichment: string]: unknown;
}

export interface LinkSigner {
  publicUrl: string;
  secret: string;
}

/** Signed unsubscribe token: base64url(JSON) + '.' + HMAC, so the link cannot be forged. */
export function signToken(payload: object, secret: string): string {
  const body = Buffer.from(JSON.stringify(payload)).toString('base64url');
  return `${body}.${createHmac('sha256', secret).update(body).digest('base64url').slice(0, 22)}`;
}

/** The payload of a token signed with `secret`, or undefined when it was tampered with. */
export function verifyToken<T>(token: string, secret: string): T | undefined {
  const [body, mac] = token.split('.', 2);
  if (body === undefined || mac === undefined) return undefined;
  if (createHmac('sha256', secret).update(body).digest('base64url').slice(0, 22) !== mac) return undefined;
  try {
    return JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as T;
  } catch {
    return undefined;
  }
}

function plain<T>(): Record<string, T> {
  return Object.create(null) as Record<string, T>;
}

/**
 * Unsubscribe links per signer, profile object and channel: the same inputs always sign to the
 * same link, and a profile object (the datamart cache's, while it is cached) keeps its links.
 */
const unsubscribeLinks = new WeakMap<LinkSigner, WeakMap<Profile, Record<string, string>>>();

function unsubscribeLink(links: LinkSigner, profile: Profile, channel: string): string {
  let byProfile = unsubscribeLinks.get(links);
  if (byProfile === undefined) unsubscribeLinks.set(links, (byProfile = new WeakMap()));
  let byChannel = byProfile.get(profile);
  if (byChannel === undefined) byProfile.set(profile, (byChannel = Object.create(null) as Record<string, string>));
  return (byChannel[channel] ??= `${links.publicUrl.replace(/\/$/, '')}/u/${signToken({ p: profile.id, c: channel }, links.secret)}`);
}

export function buildContext(record: FiredRecord, event: Pick<EventDefinition, 'id' | 'channel'>, profile: Profile | undefined, links?: LinkSigner): MessageContext {
  const dims = plain<string | number | boolean>();
  const summary = plain<Array<string | number | boolean>>();
  for (const [name, values] of Object.entries(record.metadata)) {
    summary[name] = values;
    const last = values[values.length - 1];
    if (last !== undefined) dims[name] = last;
  }
  const context: MessageContext = {
    ctx: {
      dims,
      summary,
      products: record.cart.map((item) => ({ ...item })),
      visitorId: record.visitorId,
      firedAt: record.firedAt,
      triggerName: record.triggerName,
      aliases: { ...record.aliases },
    },
    event: { id: event.id, trigger: record.triggerName },
    links: {},
  };
  if (profile !== undefined) {
    context.profile = profile;
    if (links !== undefined) context.links.unsubscribe = unsubscribeLink(links, profile, event.channel);
  }
  return context;
}

const hrefPattern = /href="(https?:\/\/[^"]+)"/gi;

/**
 * Wraps each absolute http(s) link of a rendered HTML body in a tracked `/c/<token>` link, so a
 * click can tie the visitor who clicks to the profile (SPEC §6.2). Links already under the public
 * URL (unsubscribe) are left alone. Handlebars escaped the URL (`&amp;`): it is unescaped first.
 */
export function trackLinks(html: string, links: LinkSigner, profileId: string): string {
  const base = links.publicUrl.replace(/\/$/, '');
  return html.replace(hrefPattern, (whole, url: string) => {
    if (url.startsWith(`${base}/`)) return whole;
    const target = url.replace(/&amp;/g, '&').replace(/&#x3D;/g, '=');
    return `href="${base}/c/${signToken({ u: target, p: profileId }, links.secret)}"`;
  });
}

const scalarText = (value: unknown): string | undefined =>
  typeof value === 'string' ? (value === '' ? undefined : value) : typeof value === 'number' || typeof value === 'boolean' ? String(value) : undefined;

/** The recipient of an event-targeted message (`recipient: {email: ctx.dims.eVar9}`). */
export function readRecipient(event: Pick<EventDefinition, 'recipient'>, context: MessageContext): string | undefined {
  return event.recipient === undefined ? undefined : scalarText(readPath(context, event.recipient.path));
}

export type Enriched = { ok: true; context: MessageContext } | { ok: false; missing: string };

/**
 * Applies the event's enrichments in order (a later one may join on an earlier one). A join over a
 * list gives a list aligned with it, each item merged over its row; a single join gives the row or
 * null. A `required` enrichment that finds nothing (for a list: an item without a row, or no item)
 * fails the message.
 */
export async function enrich(event: Pick<EventDefinition, 'enrichment'>, context: MessageContext, resources: ResourceLookup): Promise<Enriched> {
  for (const step of event.enrichment) {
    const value = readPath(context, step.path);
    if (step.path.list) {
      const items = (readPath(context, { ...step.path, list: false, rest: [] }) as unknown[] | undefined) ?? [];
      const itemKeys = (Array.isArray(value) ? value : []).map(scalarText);
      const rows = await resources.getMany(step.resource, [...new Set(itemKeys.filter((k): k is string => k !== undefined))]);
      let complete = itemKeys.length > 0;
      context[step.name] = itemKeys.map((key, i) => {
        const row = key === undefined ? undefined : rows.get(key);
        if (row === undefined) complete = false;
        const item = Array.isArray(items) ? items[i] : undefined;
        return { ...row, ...(typeof item === 'object' && item !== null ? item : {}) };
      });
      if (step.required && !complete) return { ok: false, missing: step.name };
    } else {
      const key = scalarText(value);
      const row = key === undefined ? undefined : (await resources.getMany(step.resource, [key])).get(key);
      context[step.name] = row ?? null;
      if (step.required && row === undefined) return { ok: false, missing: step.name };
    }
  }
  return { ok: true, context };
}

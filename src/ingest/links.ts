// Links in sent messages, served on the ingest port (SPEC §6.2, §6.5): `/c/<token>` records a
// click — linking the visitor id of the `mid` or `anonymousId` query parameter to the message's
// profile (the identity graph's click source) — then redirects to the target; `/u/<token>` opts
// the profile out of the message's channel (GET from the link, POST for RFC 8058 one-click).
// Tokens are signed with the installation's link secret, so neither can be forged.
import type { RedisPort } from '../core/redis/client.js';
import type { Keys } from '../core/redis/keys.js';
import { ReboundError } from '../core/errors.js';
import { verifyToken } from '../model/message-context.js';
import { ProfileStore } from '../model/profile-store.js';
import { visitorLinkField } from '../model/visitor-link.js';
import type { HttpHandler, Reply } from './http-types.js';
import type { IngestServer } from './server.js';

export interface LinkDeps {
  redis: RedisPort;
  keys: Keys;
  secret: string;
  profiles: ProfileStore;
  /** The visitor state's time to live (detect.visitorTtl): a link on a visitor detect has not seen yet must expire too. */
  visitorTtlMs: number;
}

interface ClickToken {
  u: string;
  p?: string;
}
interface UnsubscribeToken {
  p: string;
  c: 'email' | 'sms';
}

const invalid = (): never => {
  throw new ReboundError('LINK_INVALID', 'this link is not valid (altered or from another installation)');
};

function visitorOf(query: string): string | undefined {
  const params = new URLSearchParams(query);
  const id = params.get('mid') ?? params.get('anonymousId') ?? undefined;
  return id === undefined || id === '' || id.length > 256 ? undefined : id;
}

function click(deps: LinkDeps): HttpHandler {
  return async (request) => {
    const token = verifyToken<ClickToken>(request.params[0] ?? '', deps.secret) ?? invalid();
    if (typeof token.u !== 'string' || !/^https?:\/\//i.test(token.u)) invalid();
    const visitor = visitorOf(request.query);
    if (visitor !== undefined && typeof token.p === 'string') {
      await deps.redis.hsetExpiring(deps.keys.visitor(deps.keys.partitionOf(visitor), visitor), visitorLinkField, token.p, deps.visitorTtlMs);
    }
    return { status: 302, headers: { location: token.u, 'cache-control': 'no-store' }, body: '' };
  };
}

const page = (text: string): Reply => ({
  status: 200,
  headers: { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' },
  body: `<!doctype html><meta charset="utf-8"><title>${text}</title><p>${text}</p>`,
});

function unsubscribe(deps: LinkDeps): HttpHandler {
  return async (request) => {
    const token = verifyToken<UnsubscribeToken>(request.params[0] ?? '', deps.secret) ?? invalid();
    if (typeof token.p !== 'string' || (token.c !== 'email' && token.c !== 'sms')) invalid();
    const profile = await deps.profiles.get(token.p);
    if (profile !== undefined) await deps.profiles.upsert([{ ...profile, [token.c === 'email' ? 'emailOptOut' : 'smsOptOut']: true }]);
    return page(`You are unsubscribed from ${token.c === 'email' ? 'these emails' : 'these text messages'}.`);
  };
}

export function registerLinks(server: IngestServer, deps: LinkDeps): void {
  server.route('get', '/c/:token', click(deps), { name: 'link.click' });
  server.route('get', '/u/:token', unsubscribe(deps), { name: 'link.unsubscribe' });
  server.route('post', '/u/:token', unsubscribe(deps), { name: 'link.unsubscribe', maxBodyBytes: 4096 });
}

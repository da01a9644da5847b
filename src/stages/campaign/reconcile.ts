// Reconciliation (SPEC §6.2, Adobe's rules): the event's identity sources are tried in priority
// order and the first that resolves decides. A source resolving to more than one profile sends
// nothing (`ambiguous`); no usable alias at all is `aliasMissing`; aliases that match no profile
// are `noProfile`. Aliases are the trigger message's merged with what the visitor declared since
// (identify arriving after the trigger), so a late identity reconciles on a later attempt.
// reconcileWithVisitor starts with the trigger message's own aliases while the visitor is still
// being read, and reconciles again only when what the visitor declared changes an input of the
// sources: the same answer as waiting for the visitor first, one round trip sooner.
import type { Profile } from '../../model/profile.js';
import type { ReconciliationSource } from '../../model/event.js';
import type { VisitorSnapshot } from './visitor.js';

export interface IdentityLookups {
  /** Profiles by id (undefined when there is none). */
  profiles(ids: readonly string[]): Promise<Map<string, Profile | undefined>>;
  /** Ids of the profiles whose indexed `field` is `value` (sha256 hex of it when `hashed`). */
  lookup(field: string, value: string, hashed: boolean): Promise<string[]>;
}

export type Reconciliation =
  | { ok: true; profile: Profile; source: number }
  | { ok: false; reason: 'aliasMissing' | 'noProfile' | 'ambiguous' };

export interface Identity {
  aliases: Readonly<Record<string, string>>;
  /** Profile id linked to the visitor by a click in a sent message. */
  visitorLink?: string;
}

const aliasOf = (aliases: Readonly<Record<string, string>>, name: string): string | undefined => (Object.hasOwn(aliases, name) ? aliases[name] : undefined);

export async function reconcile(sources: readonly ReconciliationSource[], identity: Identity, lookups: IdentityLookups): Promise<Reconciliation> {
  let sawAlias = false;
  for (const [index, source] of sources.entries()) {
    let candidates: string[];
    if ('visitorLink' in source) {
      if (identity.visitorLink === undefined) continue;
      candidates = [identity.visitorLink];
    } else {
      const value = aliasOf(identity.aliases, source.alias);
      if (value === undefined || value === '') continue;
      candidates = source.profileField === 'id' && source.hash === undefined ? [value] : await lookups.lookup(source.profileField, value, source.hash === 'sha256');
    }
    sawAlias = true;
    const unique = [...new Set(candidates)];
    if (unique.length === 0) continue;
    const found = await lookups.profiles(unique);
    const profiles = unique.map((id) => found.get(id)).filter((p): p is Profile => p !== undefined);
    if (profiles.length > 1) return { ok: false, reason: 'ambiguous' };
    if (profiles.length === 1) return { ok: true, profile: profiles[0] as Profile, source: index };
  }
  return { ok: false, reason: sawAlias ? 'noProfile' : 'aliasMissing' };
}

/**
 * Reconciles with the trigger message's aliases merged with what the visitor declared since, and
 * the visitor's click link: as `reconcile` with that identity, but started before the visitor is
 * read, with the message's own aliases, and done again only when the visitor changes what a
 * source reads (one of its aliases, or a link for a visitorLink source).
 */
export async function reconcileWithVisitor(
  sources: readonly ReconciliationSource[],
  aliases: Readonly<Record<string, string>>,
  visitor: Promise<Pick<VisitorSnapshot, 'aliases' | 'link'>>,
  lookups: IdentityLookups,
): Promise<Reconciliation> {
  const early = reconcile(sources, { aliases }, lookups);
  early.catch(() => undefined); // a failed visitor read fails the job first
  const { aliases: declared, link } = await visitor;
  // The merged value of an alias differs only where the visitor declared another one.
  const changed = sources.some((source) => ('visitorLink' in source ? !!link : Object.hasOwn(declared, source.alias) && declared[source.alias] !== aliasOf(aliases, source.alias)));
  return changed ? reconcile(sources, { aliases: { ...aliases, ...declared }, ...(link ? { visitorLink: link } : {}) }, lookups) : early;
}

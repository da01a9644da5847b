// What the fault suite's shoppers received, as a set of `visitor trigger channel`: each email
// and SMS is traced back to its visitor by its address (every known visitor has its own
// profile) and to its trigger by its wording (English or French). Copies of one email (same
// Message-ID) or one SMS (same number and text) are counted as resends; a second message with
// another Message-ID for the same visitor, trigger and channel is a duplicate, never allowed.
import type { Email, Sms } from './inbox.js';
import { triggerOf, type GeneratedProfile } from './traffic.js';

export interface DeliveredSet {
  set: Set<string>;
  emailResends: number;
  smsResends: number;
  /** Keys reached by two different emails (two Message-IDs). */
  duplicates: string[];
  /** Messages whose address, wording or language does not fit any expected message. */
  strays: string[];
}

const wordings: Array<[RegExp, keyof typeof triggerOf, 'en' | 'fr']> = [
  [/your cart is waiting|your Demo Shop cart is waiting/, 'cart', 'en'],
  [/votre panier( Demo Shop)? vous attend/, 'cart', 'fr'],
  [/still thinking it over\?|still thinking about/, 'browse', 'en'],
  [/vous hésitez encore/, 'browse', 'fr'],
  [/still looking for/, 'search', 'en'],
  [/vous cherchez toujours/, 'search', 'fr'],
];

export function deliveredSet(emails: readonly Email[], sms: readonly Sms[], visitorOfAddress: ReadonlyMap<string, string>, profiles: readonly GeneratedProfile[]): DeliveredSet {
  const localeOf = new Map<string, string>();
  for (const p of profiles) {
    localeOf.set(p.email, p.locale);
    localeOf.set(p.phone.slice(1), p.locale);
  }
  const result: DeliveredSet = { set: new Set(), emailResends: 0, smsResends: 0, duplicates: [], strays: [] };
  const idsByKey = new Map<string, Set<string>>();
  const seen = new Map<string, number>();
  const classify = (channel: 'email' | 'sms', to: string, wording: string, copyId: string): void => {
    const copies = (seen.get(copyId) ?? 0) + 1;
    seen.set(copyId, copies);
    const visitor = visitorOfAddress.get(to);
    const match = wordings.find(([pattern]) => pattern.test(wording));
    if (visitor === undefined || match === undefined || !localeOf.get(to)?.startsWith(match[2])) {
      result.strays.push(`${channel} to ${to}: ${wording.slice(0, 80)}`);
      return;
    }
    if (copies > 1) {
      if (channel === 'email') result.emailResends++;
      else result.smsResends++;
      return;
    }
    const key = `${visitor} ${triggerOf[match[1]]} ${channel}`;
    const ids = idsByKey.get(key) ?? new Set<string>();
    ids.add(copyId);
    idsByKey.set(key, ids);
    if (ids.size === 2) result.duplicates.push(key);
    result.set.add(key);
  };
  for (const email of emails) classify('email', email.to, email.subject, email.messageId);
  for (const message of sms) classify('sms', message.to, message.text, `${message.to}|${message.text}`);
  return result;
}

// The BullMQ baseline's rendering: the same cart email template as Rebound's event
// (bench/scenarios/e2e-shop.ts), compiled once with plain Handlebars and the few helpers it
// uses written the obvious way (no sandboxing, no per-locale fallbacks, no signed links).
import Handlebars from 'handlebars';
import { cartTemplate } from '../scenarios/e2e-shop.js';

const hbs = Handlebars.create();
const formats = new Map<string, Intl.NumberFormat>();

hbs.registerHelper('default', (value: unknown, fallback: unknown) => (value === undefined || value === null || value === '' ? fallback : value));
hbs.registerHelper('url', (value: unknown) => encodeURIComponent(String(value ?? '')));
hbs.registerHelper('money', (amount: unknown, currency: unknown, locale: unknown) => {
  const lang = typeof locale === 'string' ? locale : 'en';
  const key = `${lang}|${String(currency)}`;
  let format = formats.get(key);
  if (format === undefined) formats.set(key, (format = new Intl.NumberFormat(lang, { style: 'currency', currency: String(currency) })));
  return format.format(Number(amount));
});
hbs.registerHelper('listing', function (this: unknown, list: unknown, options: Handlebars.HelperOptions) {
  const max = Number((options.hash as { max?: number }).max ?? 10);
  const items = Array.isArray(list) ? list.slice(0, max) : [];
  return items.length === 0 ? options.inverse(this) : items.map((item) => options.fn(item)).join('');
});

const subject = hbs.compile(cartTemplate.subject, { noEscape: true });
const html = hbs.compile(cartTemplate.html);

export interface CartContext {
  profile: Record<string, unknown>;
  cart: Array<Record<string, unknown>>;
  ctx: { visitorId: string };
  links: { unsubscribe: string };
}

export function renderCartEmail(context: CartContext): { from: string; subject: string; html: string } {
  return { from: cartTemplate.from, subject: subject(context), html: html(context) };
}

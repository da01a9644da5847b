// Renders a validated template (SPEC §6.5). `compileTemplate` builds the Handlebars delegates of
// every language once, in an isolated environment holding only our helpers; a compiled template is
// frozen, so a message always renders with the version it was compiled from.
import Handlebars from 'handlebars';
import { ReboundError } from '../core/errors.js';
import type { TemplateContent, TemplateDefinition } from './template.js';

export interface RenderedMessage {
  subject?: string;
  html?: string;
  text?: string;
}
export interface CompiledTemplate {
  readonly id: string;
  readonly channel: TemplateDefinition['channel'];
  render(context: object, locale?: string): RenderedMessage;
}

type Delegate = Handlebars.TemplateDelegate;
interface CompiledContent {
  subject?: Delegate;
  html?: Delegate;
  text?: Delegate;
}
type HelperOptions = Handlebars.HelperOptions;

const runtimeOptions = { allowProtoPropertiesByDefault: false, allowProtoMethodsByDefault: false } as const;
const maxListing = 100;
const formatterCacheSize = 256;

/** Intl formatters are costly to build: keep a bounded cache per options key. */
function cached<T>(cache: Map<string, T>, key: string, build: () => T): T {
  let value = cache.get(key);
  if (value === undefined) {
    if (cache.size >= formatterCacheSize) cache.clear();
    value = build();
    cache.set(key, value);
  }
  return value;
}
const numberFormats = new Map<string, Intl.NumberFormat>();
const dateFormats = new Map<string, Intl.DateTimeFormat>();

const dateStyles: Record<string, Intl.DateTimeFormatOptions> = {
  short: { dateStyle: 'short', timeStyle: 'short' },
  long: { dateStyle: 'long', timeStyle: 'short' },
  date: { dateStyle: 'long' },
  time: { timeStyle: 'short' },
};

/** Handlebars passes its options object last; the arguments before it are the template's. */
function split(args: unknown[]): { params: unknown[]; options: HelperOptions } {
  return { params: args.slice(0, -1), options: args[args.length - 1] as HelperOptions };
}
function renderLocale(options: HelperOptions): string {
  const locale: unknown = (options.data as { locale?: unknown } | undefined)?.locale;
  return typeof locale === 'string' ? locale : 'en';
}
function isBlank(value: unknown): boolean {
  return value === undefined || value === null || value === '';
}
function numeric(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? value : undefined;
  if (typeof value === 'string' && value.trim() !== '' && Number.isFinite(Number(value))) return Number(value);
  return undefined;
}
function text(value: unknown): string {
  return isBlank(value) ? '' : String(value);
}

function money(...args: unknown[]): string {
  const { params, options } = split(args);
  const [amount, currency, locale] = params;
  const value = numeric(amount);
  if (value === undefined) throw new Error(`money: ${JSON.stringify(amount) ?? 'undefined'} is not an amount`);
  if (typeof currency !== 'string') throw new Error('money: a currency code is needed, e.g. {{money price "EUR"}}');
  const lang = typeof locale === 'string' ? locale : renderLocale(options);
  return cached(numberFormats, `${lang}|${currency}`, () => new Intl.NumberFormat(lang, { style: 'currency', currency })).format(value);
}

function toDate(ts: unknown): Date {
  const date = ts instanceof Date ? ts : new Date(numeric(ts) ?? (typeof ts === 'string' ? ts : Number.NaN));
  if (Number.isNaN(date.getTime())) throw new Error(`date: ${JSON.stringify(ts) ?? 'undefined'} is not a timestamp`);
  return date;
}

function date(...args: unknown[]): string {
  const { params, options } = split(args);
  const [ts, format = 'long', timeZone = 'UTC'] = params;
  const style = typeof format === 'string' && Object.hasOwn(dateStyles, format) ? dateStyles[format] : undefined;
  if (style === undefined) throw new Error(`date: the format is short, long, date or time, not ${JSON.stringify(format)}`);
  const lang = renderLocale(options);
  const key = `${lang}|${String(format)}|${String(timeZone)}`;
  return cached(dateFormats, key, () => new Intl.DateTimeFormat(lang, { ...style, timeZone: String(timeZone) })).format(toDate(ts));
}

function compare(test: (a: number, b: number) => boolean) {
  return (a: unknown, b: unknown): boolean => {
    const x = numeric(a);
    const y = numeric(b);
    return x !== undefined && y !== undefined && test(x, y);
  };
}
function equal(a: unknown, b: unknown): boolean {
  const x = numeric(a);
  const y = numeric(b);
  return x !== undefined && y !== undefined ? x === y : a === b;
}

function truncate(value: unknown, n: unknown): string {
  const max = numeric(n);
  if (max === undefined || max < 1) throw new Error('truncate: the length is a positive number');
  const chars = Array.from(text(value));
  return chars.length <= max ? chars.join('') : `${chars.slice(0, Math.max(0, Math.floor(max) - 1)).join('')}…`;
}

/** `{{#listing ctx.products first=0 max=5}}…{{else}}…{{/listing}}`: `first` is the index of the first item shown. */
function listing(this: unknown, list: unknown, options: HelperOptions): string {
  const hash = options.hash as Record<string, unknown>;
  const first = Math.max(0, Math.floor(numeric(hash.first) ?? 0));
  const max = Math.min(maxListing, Math.max(0, Math.floor(numeric(hash.max) ?? maxListing)));
  const items = Array.isArray(list) ? list.slice(first, first + max) : [];
  if (items.length === 0) return options.inverse(this);
  const total = (list as unknown[]).length;
  let out = '';
  for (let index = 0; index < items.length; index++) {
    const data = Handlebars.createFrame(options.data) as Record<string, unknown>;
    data.index = index;
    data.first = index === 0;
    data.last = index === items.length - 1;
    data.total = total;
    data.more = total - first - items.length;
    out += options.fn(items[index], { data });
  }
  return out;
}

const helpers: Record<string, Handlebars.HelperDelegate> = {
  default: (value: unknown, fallback: unknown) => (isBlank(value) ? fallback : value),
  money,
  date,
  eq: equal,
  ne: (a: unknown, b: unknown) => !equal(a, b),
  gt: compare((a, b) => a > b),
  gte: compare((a, b) => a >= b),
  lt: compare((a, b) => a < b),
  lte: compare((a, b) => a <= b),
  upper: (value: unknown) => text(value).toUpperCase(),
  lower: (value: unknown) => text(value).toLowerCase(),
  truncate,
  url: (value: unknown) => encodeURIComponent(text(value)),
  listing,
};

/** One environment for every template: only our helpers, no partials, nothing global. */
const env = Handlebars.create();
for (const [name, helper] of Object.entries(helpers)) env.registerHelper(name, helper);
const knownHelpers = Object.fromEntries(Object.keys(helpers).map((name) => [name, true]));

/** The compiler stages of a Handlebars environment that `compile` chains (not in its type declarations). */
interface CompilerStages {
  parse(input: string, options: object): unknown;
  Compiler: new () => { compile(ast: unknown, options: object): unknown };
  JavaScriptCompiler: new () => { compile(environment: unknown, options: object, context: undefined, asObject: true): unknown };
  template(spec: unknown): Delegate & { _setup?: (options: object) => void };
}

/**
 * `env.compile` without its per-call setup: a Handlebars template rebuilds its merged helpers
 * and prototype-access rules on every call, from options that are the same on every call here
 * (runtimeOptions, no per-call helpers or partials), so after the first call they are kept.
 * Compiled on first use like `env.compile` (a syntax error fails the render, not the load).
 */
function compileOnce(source: string, options: object): Delegate {
  let template: Delegate | undefined;
  return (context, runtime) => {
    if (template === undefined) {
      const stages = env as unknown as CompilerStages;
      const settings = { ...options, data: true };
      const built = stages.template(new stages.JavaScriptCompiler().compile(new stages.Compiler().compile(stages.parse(source, settings), settings), settings, undefined, true));
      const setup = built._setup;
      if (typeof setup === 'function') {
        let done = false;
        built._setup = (setupOptions) => {
          if (done) return;
          setup(setupOptions);
          done = true;
        };
      }
      template = built;
    }
    return template(context, runtime);
  };
}

function compileContent(content: TemplateContent): CompiledContent {
  const compiled: CompiledContent = {};
  const options = { strict: false, knownHelpers, knownHelpersOnly: true } as const;
  // HTML escaping stays on for html; subject and text are plain text, where `&amp;` would be wrong.
  if (content.html !== undefined) compiled.html = compileOnce(content.html, options);
  if (content.subject !== undefined) compiled.subject = compileOnce(content.subject, { ...options, noEscape: true });
  if (content.text !== undefined) compiled.text = compileOnce(content.text, { ...options, noEscape: true });
  return Object.freeze(compiled);
}

const entities: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: ' ' };

/** A plain-text part derived from rendered HTML: tags dropped, entities decoded once, blank runs collapsed. */
export function htmlToText(html: string): string {
  return html
    .replace(/<(script|style|head)\b[^>]*>[\s\S]*?<\/\1\s*>/gi, '')
    // Runs of blanks become one space; the patterns skip what is one already (fewer new strings).
    .replace(/\s\s+|[^\S ]/g, ' ') // line breaks in HTML source are spaces; block ends make the lines
    .replace(/<br\s*\/?>|<\/(p|div|li|tr|h[1-6]|table|ul|ol)\s*>/gi, '\n')
    .replace(/<[^>]*>/g, '')
    .replace(/&(#x[0-9a-f]{1,6}|#[0-9]{1,7}|[a-z]+);/gi, (whole, name: string) => decodeEntity(whole, name))
    .replace(/[ \t\f\v\r\u00a0]{2,}|[\t\f\v\r\u00a0]/g, ' ')
    .replace(/ +\n *|\n +/g, '\n')
    .replace(/\n{3,}/g, '\n\n')
    .trim();
}
function decodeEntity(whole: string, name: string): string {
  if (name[0] !== '#') return entities[name.toLowerCase()] ?? whole;
  const code = name[1] === 'x' || name[1] === 'X' ? parseInt(name.slice(2), 16) : parseInt(name.slice(1), 10);
  return code > 0 && code <= 0x10ffff ? String.fromCodePoint(code) : whole;
}

function run(field: keyof CompiledContent, delegate: Delegate, context: object, locale: string): string {
  try {
    return delegate(context, { ...runtimeOptions, data: { locale } });
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    throw new ReboundError('TEMPLATE_RENDER_FAILED', `${field}: ${message}`, { cause: err, path: field });
  }
}

/** The language entry for `fr-CA`, else `fr`, else none. */
function languageOf(languages: Record<string, CompiledContent>, locale: string | undefined): CompiledContent | undefined {
  if (locale === undefined) return undefined;
  if (Object.hasOwn(languages, locale)) return languages[locale];
  const base = locale.split('-')[0] ?? '';
  return Object.hasOwn(languages, base) ? languages[base] : undefined;
}

export function compileTemplate(template: TemplateDefinition): CompiledTemplate {
  const defaults = compileContent(template);
  const languages: Record<string, CompiledContent> = Object.create(null) as Record<string, CompiledContent>;
  for (const [code, content] of Object.entries(template.languages)) languages[code] = compileContent(content);
  Object.freeze(languages);
  const render = (context: object, locale?: string): RenderedMessage => {
    const chosen = languageOf(languages, locale);
    const out: RenderedMessage = {};
    for (const field of ['subject', 'html', 'text'] as const) {
      const delegate = chosen?.[field] ?? defaults[field];
      if (delegate !== undefined) out[field] = run(field, delegate, context, locale ?? 'en');
    }
    if (out.subject !== undefined) out.subject = out.subject.replace(/\s+/g, ' ').trim();
    if (out.html !== undefined && out.text === undefined) out.text = htmlToText(out.html);
    return out;
  };
  return Object.freeze({ id: template.id, channel: template.channel, render });
}

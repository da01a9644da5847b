// A message template (SPEC §6.5): `parseTemplate` validates a `kind: Template` document and reports
// every problem with its path in one TEMPLATE_INVALID error, including those found by parsing each
// Handlebars source. Longer than most files because the Handlebars rules (helpers, raw output,
// prototype paths) belong with the schema they refine; rendering is render.ts.
import Handlebars from 'handlebars';
import { z } from 'zod';
import { ReboundError } from '../core/errors.js';

export type TemplateChannel = 'email' | 'sms';
export type TemplateStatus = 'draft' | 'published' | 'paused';
/** The Handlebars sources of one language. */
export interface TemplateContent {
  subject?: string;
  html?: string;
  text?: string;
}
export interface TemplateDefinition extends TemplateContent {
  kind: 'Template';
  id: string;
  channel: TemplateChannel;
  from?: string;
  replyTo?: string;
  /** Overrides by language code (`fr`, `fr-CA`): a field given here replaces the default one. */
  languages: Record<string, TemplateContent>;
  allowRawHtml: boolean;
  status: TemplateStatus;
}

/** Our helpers and the Handlebars built-ins a template may use; anything else is refused. */
export const inlineHelpers: readonly string[] = ['default', 'money', 'date', 'eq', 'ne', 'gt', 'gte', 'lt', 'lte', 'upper', 'lower', 'truncate', 'url'];
export const blockHelpers: readonly string[] = ['listing', 'if', 'unless', 'each', 'with'];
/** Helpers the isolated environment registers (the built-in block helpers come with it). */
export const templateHelperNames: readonly string[] = [...inlineHelpers, 'listing'];

export const templateLimits = {
  subjectChars: 1000,
  htmlChars: 500_000,
  textChars: 100_000,
  languages: 50,
} as const;

const slug = /^[a-z0-9][a-z0-9-]{0,63}$/;
const languageCode = /^[a-z]{2,3}(-[A-Za-z0-9]{2,8}){0,3}$/;
const templateFields = ['subject', 'html', 'text'] as const;
/** Path segments that would reach an object's prototype or its accessors (`__defineGetter__`, …). */
const forbiddenSegments = new Set([...Object.getOwnPropertyNames(Object.prototype), 'prototype']);

type LooseContent = { [K in keyof TemplateContent]?: string | undefined };

function issue(ctx: z.RefinementCtx, message: string, path: Array<string | number> = []): void {
  ctx.addIssue({ code: z.ZodIssueCode.custom, message, path });
}

const content = {
  subject: z.string().min(1).max(templateLimits.subjectChars).optional(),
  html: z.string().min(1).max(templateLimits.htmlChars).optional(),
  text: z.string().min(1).max(templateLimits.textChars).optional(),
};

const channel = z.string().transform((value, ctx): TemplateChannel => {
  if (value === 'push') issue(ctx, 'push notifications are not supported for triggers; use email or sms');
  else if (value !== 'email' && value !== 'sms') issue(ctx, 'a channel is email or sms');
  return value as TemplateChannel;
});

export const templateSchema = z
  .object({
    kind: z.literal('Template'),
    id: z.string().regex(slug, 'a slug: lower-case letters, digits and -, at most 64, not starting with -'),
    channel,
    from: z.string().min(1).max(320).optional(),
    replyTo: z.string().min(1).max(320).optional(),
    ...content,
    languages: z
      .record(z.string().regex(languageCode, 'a language code such as fr or fr-CA'), z.object(content).strict())
      .refine((langs) => Object.keys(langs).length <= templateLimits.languages, `at most ${templateLimits.languages} languages`)
      .default({}),
    allowRawHtml: z.boolean().default(false),
    status: z.enum(['draft', 'published', 'paused']).default('draft'),
  })
  .strict()
  .superRefine((t, ctx) => {
    const variants: Array<[Array<string | number>, LooseContent]> = [[[], t], ...Object.entries(t.languages).map(([code, c]): [Array<string | number>, LooseContent] => [['languages', code], c])];
    for (const [at, c] of variants) {
      if (t.channel === 'sms') {
        if (c.html !== undefined) issue(ctx, 'an sms template has text only', [...at, 'html']);
        if (c.subject !== undefined) issue(ctx, 'an sms template has text only', [...at, 'subject']);
      }
    }
    if (t.channel === 'sms' && t.text === undefined) issue(ctx, 'an sms template needs text', ['text']);
    if (t.channel === 'email' && t.subject === undefined) issue(ctx, 'an email template needs a subject', ['subject']);
    if (t.channel === 'email' && t.html === undefined && t.text === undefined) issue(ctx, 'an email template needs html or text', ['html']);
  });

/** A template as written in YAML or JSON, with its sources inline. */
export type TemplateDocument = z.input<typeof templateSchema>;

/** Every Handlebars source of a document that is a string, with its path. */
function sources(document: unknown): Array<{ path: string; source: string }> {
  if (typeof document !== 'object' || document === null) return [];
  const doc = document as Record<string, unknown>;
  const found: Array<{ path: string; source: string }> = [];
  const collect = (from: Record<string, unknown>, prefix: string): void => {
    for (const field of templateFields) {
      const source = Object.hasOwn(from, field) ? from[field] : undefined;
      if (typeof source === 'string') found.push({ path: `${prefix}${field}`, source });
    }
  };
  collect(doc, '');
  const languages = Object.hasOwn(doc, 'languages') ? doc.languages : undefined;
  if (typeof languages === 'object' && languages !== null) {
    for (const [code, value] of Object.entries(languages)) {
      if (typeof value === 'object' && value !== null) collect(value as Record<string, unknown>, `languages.${code}.`);
    }
  }
  return found;
}

type Node = hbs.AST.Node;
type Call = hbs.AST.MustacheStatement | hbs.AST.BlockStatement | hbs.AST.SubExpression;

/** The hash pairs of a call; Handlebars leaves `hash` undefined when there are none, whatever its types say. */
function pairsOf(node: Call): hbs.AST.HashPair[] {
  return (node.hash as hbs.AST.Hash | undefined)?.pairs ?? [];
}

/** Walks a parsed Handlebars program and lists what a template may not do. */
class SourceChecker {
  readonly problems: string[] = [];
  readonly #allowRawHtml: boolean;

  constructor(allowRawHtml: boolean) {
    this.#allowRawHtml = allowRawHtml;
  }

  #report(node: Node, message: string): void {
    this.problems.push(`line ${node.loc.start.line}: ${message}`);
  }

  visit(node: Node | null | undefined): void {
    if (!node) return;
    switch (node.type) {
      case 'Program':
        return (node as hbs.AST.Program).body.forEach((n) => this.visit(n));
      case 'MustacheStatement':
        return this.#mustache(node as hbs.AST.MustacheStatement);
      case 'BlockStatement':
        return this.#block(node as hbs.AST.BlockStatement);
      case 'SubExpression':
        return this.#call(node as hbs.AST.SubExpression, 'inline');
      case 'PathExpression':
        return this.#path(node as hbs.AST.PathExpression);
      case 'PartialStatement':
      case 'PartialBlockStatement':
        return this.#report(node, 'partials ({{> name}}) are not supported');
      case 'Decorator':
      case 'DecoratorBlock':
        return this.#report(node, 'decorators ({{* name}}) are not supported');
      default:
        return; // content, comments and literals
    }
  }

  #mustache(node: hbs.AST.MustacheStatement): void {
    if (!node.escaped && !this.#allowRawHtml) this.#report(node, '{{{ }}} and {{& }} output raw HTML; set allowRawHtml: true to allow it');
    if (node.path.type !== 'PathExpression') {
      // `{{"name"}}` and `{{1}}` are looked up as names.
      const name = String((node.path as hbs.AST.StringLiteral).original);
      if (forbiddenSegments.has(name)) this.#report(node, `"${name}" is not accessible`);
    }
    if (node.params.length > 0 || pairsOf(node).length > 0) this.#call(node, 'inline');
    else this.visit(node.path);
  }

  #block(node: hbs.AST.BlockStatement): void {
    if (node.params.length > 0 || pairsOf(node).length > 0 || blockHelpers.includes(node.path.original)) this.#call(node, 'block');
    else this.visit(node.path);
    this.visit(node.program);
    this.visit(node.inverse);
  }

  #call(node: Call, kind: 'inline' | 'block'): void {
    const path = node.path;
    const name = String((path as { original?: unknown }).original);
    const simple = path.type === 'PathExpression' && !(path as hbs.AST.PathExpression).data && (path as hbs.AST.PathExpression).parts.length === 1;
    if (!simple || ![...inlineHelpers, ...blockHelpers].includes(name)) {
      this.#report(node, `unknown helper "${name}" (helpers: ${[...inlineHelpers, ...blockHelpers].join(', ')})`);
    } else if (kind === 'block' && !blockHelpers.includes(name)) {
      this.#report(node, `${name} is not a block helper: write {{${name} …}}, or {{#if (${name} …)}} for a comparison`);
    } else if (kind === 'inline' && blockHelpers.includes(name)) {
      this.#report(node, `${name} is a block helper: use {{#${name} …}}…{{/${name}}}`);
    } else if (kind === 'block' && node.params.length !== 1) {
      this.#report(node, `#${name} takes exactly one argument`);
    }
    node.params.forEach((p) => this.visit(p));
    pairsOf(node).forEach((pair) => this.visit(pair.value));
  }

  #path(node: hbs.AST.PathExpression): void {
    const bad = node.parts.find((part) => forbiddenSegments.has(part));
    if (bad !== undefined) this.#report(node, `"${node.original}" reaches "${bad}", which is not accessible`);
  }
}

const knownHelpers = Object.fromEntries([...inlineHelpers, ...blockHelpers].map((name) => [name, true]));

/** Problems of one Handlebars source: its syntax, then what the checker refuses. */
export function templateSourceProblems(source: string, allowRawHtml: boolean): string[] {
  let program: hbs.AST.Program;
  try {
    program = Handlebars.parse(source);
  } catch (err) {
    return [`Handlebars syntax error: ${flatten(err)}`];
  }
  const checker = new SourceChecker(allowRawHtml);
  checker.visit(program);
  if (checker.problems.length > 0) return checker.problems;
  try {
    Handlebars.precompile(program, { knownHelpers, knownHelpersOnly: true, strict: false });
  } catch (err) {
    return [flatten(err)];
  }
  return [];
}

function flatten(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  return message.replace(/\s*\n[\s-]*\^?\s*/g, ' ').trim();
}

function toDefinition(parsed: z.output<typeof templateSchema>): TemplateDefinition {
  const definition: TemplateDefinition = {
    kind: 'Template',
    id: parsed.id,
    channel: parsed.channel,
    languages: {},
    allowRawHtml: parsed.allowRawHtml,
    status: parsed.status,
  };
  for (const key of ['from', 'replyTo', ...templateFields] as const) {
    const value = parsed[key];
    if (value !== undefined) definition[key] = value;
  }
  for (const [code, c] of Object.entries(parsed.languages)) definition.languages[code] = withoutUndefined(c);
  return Object.freeze(definition);
}

function withoutUndefined(c: LooseContent): TemplateContent {
  const out: TemplateContent = {};
  for (const key of templateFields) {
    const value = c[key];
    if (value !== undefined) out[key] = value;
  }
  return Object.freeze(out);
}

export function parseTemplate(document: unknown, origin = 'template'): TemplateDefinition {
  const problems: string[] = [];
  const result = templateSchema.safeParse(document);
  if (!result.success) problems.push(...result.error.issues.map((i) => `  ${i.path.join('.') || '(top level)'}: ${i.message}`));
  const allowRawHtml = typeof document === 'object' && document !== null && (document as { allowRawHtml?: unknown }).allowRawHtml === true;
  for (const { path, source } of sources(document)) {
    problems.push(...templateSourceProblems(source, allowRawHtml).map((p) => `  ${path}: ${p}`));
  }
  if (problems.length === 0 && result.success) return toDefinition(result.data);
  const first = problems[0]?.trim().split(':')[0] ?? '';
  throw new ReboundError('TEMPLATE_INVALID', `invalid ${origin}:\n${problems.join('\n')}`, { path: `${origin}: ${first}` });
}

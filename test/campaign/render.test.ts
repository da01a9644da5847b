// Templates (SPEC §6.5): what a customer receives for Adobe's cart example in English and French,
// hostile payload values rendered inert, and the templates refused at apply time with their path.
import { describe, expect, it } from 'vitest';
import { isReboundError } from '../../src/core/errors.js';
import { parseTemplate, type TemplateDocument } from '../../src/model/template.js';
import { compileTemplate } from '../../src/model/render.js';

const cartHtml = `<h1>{{default profile.firstName "Hello"}}, you left something behind</h1>
<ul>
{{#listing ctx.products max=3}}  <li>{{name}}: {{money price "USD"}}</li>
{{else}}  <li>Your cart is empty, have a look at our new arrivals.</li>
{{/listing}}</ul>
{{#if (gt ctx.dims.cartTotal 0)}}<p>Total: {{money ctx.dims.cartTotal "USD"}}</p>{{/if}}
<a href="https://shop.example.com/cart?v={{url ctx.visitorId}}">Back to your cart</a>`;

const cart: TemplateDocument = {
  kind: 'Template',
  id: 'cart-abandonment-email',
  channel: 'email',
  from: 'Shop <shop@example.com>',
  replyTo: 'support@example.com',
  subject: "{{default profile.firstName 'Hello'}}, your cart is waiting",
  html: cartHtml,
  languages: {
    fr: {
      subject: '{{default profile.firstName "Bonjour"}}, votre panier vous attend',
      html: `<p>Total : {{money ctx.dims.cartTotal "EUR" "fr-FR"}}</p><p>Ajouté le {{date ctx.firedAt "long" "Europe/Paris"}}</p>{{#listing ctx.products}}<p>{{upper name}} – {{money price "EUR"}}</p>{{/listing}}`,
    },
  },
};

const products = [
  { sku: 'SKU-1', name: 'Trail shoes', price: 89.9, quantity: 1 },
  { sku: 'SKU-2', name: 'Socks', price: '12.5', quantity: 2 },
];
const firedAt = Date.UTC(2026, 6, 14, 21, 30); // 23:30 in Paris (summer time)

function problems(document: unknown): string[] {
  try {
    parseTemplate(document);
  } catch (err) {
    expect(isReboundError(err, 'TEMPLATE_INVALID')).toBe(true);
    return (err as Error).message.split('\n').slice(1).map((line) => line.trim());
  }
  return [];
}

function email(html: string, extra: Partial<TemplateDocument> = {}): TemplateDocument {
  return { kind: 'Template', id: 'probe', channel: 'email', subject: 'Hi', html, ...extra };
}

describe('Adobe cart abandonment template', () => {
  const compiled = compileTemplate(parseTemplate(cart));

  it('greets by name, lists the products with their prices and shows the total', () => {
    const out = compiled.render({ profile: { firstName: 'Ada' }, ctx: { products, visitorId: 'v 1/2', dims: { cartTotal: '114.9' }, firedAt } });
    expect(out.subject).toBe('Ada, your cart is waiting');
    expect(out.html).toContain('<li>Trail shoes: $89.90</li>');
    expect(out.html).toContain('<li>Socks: $12.50</li>');
    expect(out.html).toContain('<p>Total: $114.90</p>');
    expect(out.html).toContain('href="https://shop.example.com/cart?v=v%201%2F2"');
    expect(out.html).not.toContain('empty');
    expect(out.text).toBe('Ada, you left something behind\nTrail shoes: $89.90\nSocks: $12.50\n\nTotal: $114.90\nBack to your cart');
  });

  it('falls back to the salutation and the empty-cart text', () => {
    const out = compiled.render({ profile: {}, ctx: { products: [], dims: {} } });
    expect(out.subject).toBe('Hello, your cart is waiting');
    expect(out.html).toContain('Your cart is empty');
    expect(out.html).not.toContain('Total');
  });

  it('shows at most max products', () => {
    const many = Array.from({ length: 10 }, (_, i) => ({ name: `P${i}`, price: i }));
    const html = compiled.render({ profile: {}, ctx: { products: many, dims: {} } }).html ?? '';
    expect(html.match(/<li>/g)).toHaveLength(3);
    expect(html).toContain('P2: $2.00');
    expect(html).not.toContain('P3');
  });

  it('chooses the French variant by locale, formatted fr-FR in Europe/Paris', () => {
    const out = compiled.render({ profile: { firstName: 'Amélie' }, ctx: { products, dims: { cartTotal: 1234.5 }, firedAt } }, 'fr-FR');
    expect(out.subject).toBe('Amélie, votre panier vous attend');
    const nbsp = /[\u00a0\u202f]/.source;
    expect(out.html).toMatch(new RegExp(`Total : 1${nbsp}234,50${nbsp}€`));
    expect(out.html).toContain('Ajouté le 14 juillet 2026 à 23:30');
    expect(out.html).toMatch(new RegExp(`TRAIL SHOES – 89,90${nbsp}€`));
    // No French text: derived from the French html, not the English one.
    expect(out.text).toContain('Ajouté le 14 juillet 2026');
  });

  it('uses the defaults for a locale without a variant', () => {
    expect(compiled.render({ profile: {}, ctx: { products: [] } }, 'de-DE').subject).toBe('Hello, your cart is waiting');
  });

  it('is immutable once compiled', () => {
    expect(Object.isFrozen(compiled)).toBe(true);
    expect(Object.isFrozen(parseTemplate(cart))).toBe(true);
  });
});

describe('hostile payload values', () => {
  const compiled = compileTemplate(
    parseTemplate(email('<p>{{ctx.dims.name}}</p><a href="/s?q={{url ctx.dims.name}}">x</a>{{#each ctx.dims}}<i>{{@key}}</i>{{/each}}<b>{{truncate ctx.dims.long 20}}</b>', { subject: 'For {{ctx.dims.name}}' })),
  );
  const dims = JSON.parse('{"name": "<script>alert(1)</script>{{profile.secret}}\\r\\nBcc: x@evil.test", "__proto__": {"polluted": true}, "long": "' + 'x'.repeat(10_000) + '"}') as Record<string, unknown>;

  it('escapes markup, leaves {{ }} uninterpreted and keeps the subject on one line', () => {
    const out = compiled.render({ profile: { secret: 's3cret' }, ctx: { dims } });
    expect(out.html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;{{profile.secret}}');
    expect(out.html).not.toContain('<script>');
    expect(out.html).not.toContain('s3cret');
    expect(out.html).toContain('q=%3Cscript%3Ealert(1)%3C%2Fscript%3E%7B%7Bprofile.secret%7D%7D');
    expect(out.subject).toBe('For <script>alert(1)</script>{{profile.secret}} Bcc: x@evil.test');
    expect(out.subject).not.toMatch(/[\r\n]/);
  });

  it('treats a __proto__ key as data and pollutes nothing', () => {
    const out = compiled.render({ ctx: { dims } });
    expect(out.html).toContain('<i>__proto__</i>');
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('renders a 10,000-character value truncated where asked', () => {
    const out = compiled.render({ ctx: { dims } });
    expect(out.html).toContain(`<b>${'x'.repeat(19)}…</b>`);
    expect(out.html?.length).toBeLessThan(1000);
  });

  it('denies prototype access at run time too, should a definition skip parseTemplate', () => {
    const unchecked = compileTemplate({ kind: 'Template', id: 'raw', channel: 'email', subject: 's', html: '[{{ctx.constructor.name}}][{{ctx.__proto__}}]', languages: {}, allowRawHtml: false, status: 'draft' });
    expect(unchecked.render({ ctx: {} }).html).toBe('[][]');
  });

  it('reports bad data as TEMPLATE_RENDER_FAILED with the field', () => {
    const money = compileTemplate(parseTemplate(email('{{money ctx.price "EUR"}}')));
    let error: unknown;
    try {
      money.render({ ctx: { price: 'n/a' } });
    } catch (err) {
      error = err;
    }
    expect(isReboundError(error, 'TEMPLATE_RENDER_FAILED')).toBe(true);
    expect((error as { path?: string }).path).toBe('html');
  });
});

describe('templates refused at parse time', () => {
  it('accepts the cart example', () => {
    expect(problems(cart)).toEqual([]);
  });

  it.each([
    ['{{constructor}}', 'constructor'],
    ['{{ctx.__proto__.polluted}}', '__proto__'],
    ['{{ctx.constructor.constructor}}', 'constructor'],
    ['{{ctx.[__defineGetter__]}}', '__defineGetter__'],
    ['{{lower (default ctx.prototype "x")}}', 'prototype'],
    ['{{#each ctx.__proto__}}{{/each}}', '__proto__'],
    ['{{"constructor"}}', 'constructor'],
  ])('refuses %s', (html, segment) => {
    const found = problems(email(html));
    expect(found).toHaveLength(1);
    expect(found[0]).toMatch(/^html: line 1: /);
    expect(found[0]).toContain(segment);
  });

  it('refuses raw output unless allowRawHtml', () => {
    expect(problems(email('<div>{{{ctx.block}}}</div>'))).toEqual([expect.stringMatching(/^html: line 1: .*allowRawHtml/)]);
    expect(problems(email('{{& ctx.block}}'))).toHaveLength(1);
    const raw = compileTemplate(parseTemplate(email('<div>{{{ctx.block}}}</div>', { allowRawHtml: true })));
    expect(raw.render({ ctx: { block: '<b>ok</b>' } }).html).toBe('<div><b>ok</b></div>');
  });

  it('refuses unknown helpers, lookup, partials and misused block helpers', () => {
    expect(problems(email('{{shout ctx.name}}'))).toEqual([expect.stringMatching(/^html: line 1: unknown helper "shout"/)]);
    expect(problems(email('{{lookup ctx "name"}}'))[0]).toContain('unknown helper "lookup"');
    expect(problems(email('{{> footer}}'))[0]).toContain('partials');
    expect(problems(email('{{#money ctx.price}}x{{/money}}'))[0]).toContain('not a block helper');
  });

  it('reports a syntax error with its path and every other problem with it', () => {
    const found = problems({
      ...cart,
      id: 'Bad Id',
      subject: 'Hello {{profile.firstName',
      languages: { fr: { html: '<p>\n{{#if x}}oops{{/each}}' } },
    });
    expect(found).toContainEqual(expect.stringMatching(/^id: a slug/));
    expect(found).toContainEqual(expect.stringMatching(/^subject: Handlebars syntax error: Parse error on line 1/));
    expect(found).toContainEqual(expect.stringMatching(/^languages\.fr\.html: Handlebars syntax error: .*if doesn't match each/));
  });

  it('refuses push and html on sms', () => {
    expect(problems({ ...cart, channel: 'push' })).toEqual(['channel: push notifications are not supported for triggers; use email or sms']);
    const sms = problems({ kind: 'Template', id: 'sms', channel: 'sms', html: '<b>x</b>', languages: { fr: { text: 'Bonjour', subject: 'x' } } });
    expect(sms).toEqual(expect.arrayContaining(['html: an sms template has text only', 'languages.fr.subject: an sms template has text only', 'text: an sms template needs text']));
  });

  it('renders an sms template as text, unescaped', () => {
    const sms = compileTemplate(parseTemplate({ kind: 'Template', id: 'sms', channel: 'sms', text: '{{default profile.firstName "Hi"}}: {{ctx.dims.title}} & more' }));
    expect(sms.render({ profile: {}, ctx: { dims: { title: 'Shoes <50%>' } } })).toEqual({ text: 'Hi: Shoes <50%> & more' });
  });
});

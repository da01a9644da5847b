// Reading a bundle as `rebound apply` does: multi-document YAML files and folders, every problem
// with file and line (YAML syntax, unknown kinds, invalid fields, duplicates), and templates
// referenced as files next to the YAML.
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { checkBundle } from '../../src/model/bundle-check.js';
import { loadBundle } from '../../src/model/bundle-files.js';
import { lineOf, parseYamlDocuments } from '../../src/model/bundle.js';
import { formatIssue } from '../../src/model/definition-issues.js';
import { sourceYaml, triggerYaml, writeTree } from './admin-helpers.js';

const roots: string[] = [];
const tree = (files: Record<string, string>): string => {
  const root = writeTree(files);
  roots.push(root);
  return root;
};
afterAll(() => roots.forEach((root) => rmSync(root, { recursive: true, force: true })));

const templateYaml = (id: string, html: string, text = ''): string => `kind: Template
id: ${id}
channel: email
subject: "Hello {{profile.firstName}}"
html: ${html}
${text}`;

describe('YAML documents', () => {
  it('gives each document its first line and the line of every key and list item', () => {
    const parsed = parseYamlDocuments(`# comment\n${sourceYaml()}---\n\n${triggerYaml('cart')}`, 'shop.yaml');
    expect(parsed.issues).toEqual([]);
    expect(parsed.documents.map((d) => [d.file, d.line])).toEqual([
      ['shop.yaml', 2],
      ['shop.yaml', 8],
    ]);
    const trigger = parsed.documents[1]!;
    expect(lineOf(trigger, 'inactivity')).toBe(19);
    expect(lineOf(trigger, 'include.containers')).toBe(14);
    expect(lineOf(trigger, 'include.containers.0.0.op')).toBe(15);
    expect(lineOf(trigger, 'no.such.path')).toBe(8);
  });

  it('reports YAML syntax errors with their line and keeps the valid documents', () => {
    const parsed = parseYamlDocuments(`${sourceYaml()}---\nkind: Trigger\nid: x\nname: [unclosed\n---\na: 1\na: 2\n`, 'bad.yaml');
    expect(parsed.documents).toHaveLength(1);
    expect(parsed.issues.map((i) => [i.file, i.line, i.code])).toEqual(
      expect.arrayContaining([
        ['bad.yaml', 9, 'BUNDLE_YAML_INVALID'],
        ['bad.yaml', 11, 'BUNDLE_YAML_INVALID'],
      ]),
    );
  });

  it('refuses a document expanding too many aliases', () => {
    const refs = Array.from({ length: 12 }, (_, i) => `l${i + 1}: &l${i + 1} [*l${i}, *l${i}, *l${i}, *l${i}, *l${i}, *l${i}, *l${i}, *l${i}, *l${i}, *l${i}]`).join('\n');
    const parsed = parseYamlDocuments(`l0: &l0 [lol]\n${refs}\n`, 'bomb.yaml');
    expect(parsed.documents).toEqual([]);
    expect(parsed.issues[0]).toMatchObject({ code: 'BUNDLE_YAML_INVALID', file: 'bomb.yaml' });
  });
});

describe('bundle check', () => {
  it('reports every problem of every document with file, line and path, once each', () => {
    const root = tree({
      'a.yaml': `${sourceYaml()}---\nkind: Gadget\nid: x\n---\n- just\n- a list\n`,
      'b/triggers.yaml': `${triggerYaml('cart').replace('type: abandonment', 'type: sometimes').replace('op: exists}]\nexclude', 'op: around}]\nexclude')}---\n${triggerYaml('cart')}---\n${triggerYaml('ok')}---\n${triggerYaml('ok')}`,
    });
    const bundle = loadBundle(root);
    expect(bundle.issues).toEqual([]);
    const { issues, checked } = checkBundle(bundle.documents);
    const at = (file: string) => join(root, file);
    expect(issues.map((i) => [i.file, i.line, i.path, i.code])).toEqual([
      [at('a.yaml'), 6, 'kind', 'BUNDLE_DOCUMENT_INVALID'],
      [at('a.yaml'), 9, '', 'BUNDLE_DOCUMENT_INVALID'],
      [at('b/triggers.yaml'), 5, 'type', 'TRIGGER_INVALID'],
      [at('b/triggers.yaml'), 8, 'include.containers.0.0.op', 'TRIGGER_INVALID'],
      [at('b/triggers.yaml'), 44, 'id', 'BUNDLE_DOCUMENT_INVALID'],
    ]);
    expect(issues[0]?.message).toContain('unknown kind "Gadget"; one of Source, Trigger');
    expect(issues[4]?.message).toContain(`Trigger ok is defined twice (first at ${at('b/triggers.yaml')}:29)`);
    expect(formatIssue(issues[2]!)).toMatch(new RegExp(`^${at('b/triggers.yaml')}:5: Trigger cart: type: .* \\(TRIGGER_INVALID\\)$`));
    expect(checked.map((c) => `${c.kind.kind} ${c.id}`)).toEqual(['Source shop-web', 'Trigger cart', 'Trigger ok']);
  });

  it('reports a path that is not readable, and a folder without YAML', () => {
    expect(loadBundle('/nonexistent/defs').issues).toEqual([expect.objectContaining({ code: 'BUNDLE_FILE_UNREADABLE', file: '/nonexistent/defs' })]);
    const empty = tree({ 'README.md': 'nothing here' });
    expect(loadBundle(empty).issues).toEqual([expect.objectContaining({ code: 'BUNDLE_FILE_UNREADABLE', message: expect.stringContaining('no .yaml or .yml file') })]);
  });
});

describe('template files', () => {
  it('inlines a file named next to the YAML, by a plain value or by {file: …}, languages included', () => {
    const root = tree({
      'defs/templates.yaml': templateYaml('cart', 'templates/cart.html.hbs', 'text: {file: templates/cart.txt}\nlanguages:\n  fr:\n    html: templates/cart.fr.html.hbs\n'),
      'defs/templates/cart.html.hbs': '<p>Hello {{profile.firstName}}</p>\n',
      'defs/templates/cart.txt': 'Hello {{profile.firstName}}\n',
      'defs/templates/cart.fr.html.hbs': '<p>Bonjour {{profile.firstName}}</p>\n',
    });
    const bundle = loadBundle(join(root, 'defs'));
    expect(bundle.issues).toEqual([]);
    expect(bundle.documents[0]?.document).toMatchObject({
      html: '<p>Hello {{profile.firstName}}</p>\n',
      text: 'Hello {{profile.firstName}}\n',
      languages: { fr: { html: '<p>Bonjour {{profile.firstName}}</p>\n' } },
    });
    expect(checkBundle(bundle.documents).issues).toEqual([]);
  });

  it('keeps inline sources inline, and reports a referenced file that is missing at its line', () => {
    const root = tree({ 't.yaml': `${templateYaml('inline', '"<p>{{profile.firstName}} visited shop.html</p>"')}---\n${templateYaml('missing', 'templates/nowhere.html.hbs')}` });
    const bundle = loadBundle(join(root, 't.yaml'));
    expect(bundle.documents[0]?.document).toMatchObject({ html: '<p>{{profile.firstName}} visited shop.html</p>' });
    expect(bundle.issues).toEqual([expect.objectContaining({ code: 'BUNDLE_FILE_UNREADABLE', file: join(root, 't.yaml'), line: 11, path: 'html', message: expect.stringContaining('nowhere.html.hbs') })]);
  });
});

// Reads a bundle from disk for `rebound apply -f PATH`: one YAML file, or every `.yaml`/`.yml`
// file under a folder (recursively, in name order), with template sources referenced as files
// next to the YAML inlined. A template field (`html`, `text`, and the same under `languages.*`)
// is a file reference when it is `{file: PATH}`, or a single word ending in .hbs, .handlebars,
// .html, .htm or .txt (`html: templates/cart.html.hbs`); the path is relative to the YAML file.
// A reference to a missing file is an error, never silently taken as inline text.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import type { DefinitionIssue } from './definition-issues.js';
import { lineOf, parseYamlDocuments, type Bundle, type BundleDocument } from './bundle.js';

export const bundleLimits = {
  files: 2000,
  yamlBytes: 10 * 1024 * 1024,
  templateFileBytes: 1024 * 1024,
} as const;

const templateFilePattern = /^[^\s{}<>]+\.(hbs|handlebars|html|htm|txt)$/i;
const templateFields = ['html', 'text'] as const;

/** Loads a YAML file or a folder of them; every problem is an issue, nothing throws. */
export function loadBundle(path: string): Bundle {
  const bundle: Bundle = { documents: [], issues: [] };
  let files: string[];
  try {
    files = statSync(path).isDirectory() ? yamlFilesUnder(path) : [path];
  } catch (err) {
    bundle.issues.push(fileIssue(path, undefined, '', `cannot read ${path}: ${(err as Error).message}`));
    return bundle;
  }
  if (files.length === 0) bundle.issues.push(fileIssue(path, undefined, '', `no .yaml or .yml file under ${path}`));
  if (files.length > bundleLimits.files) {
    bundle.issues.push(fileIssue(path, undefined, '', `more than ${bundleLimits.files} YAML files under ${path}`));
    return bundle;
  }
  for (const file of files) {
    const text = readText(file, bundleLimits.yamlBytes);
    if (typeof text !== 'string') {
      bundle.issues.push(fileIssue(file, undefined, '', text.error));
      continue;
    }
    const parsed = parseYamlDocuments(text, file);
    bundle.issues.push(...parsed.issues);
    for (const doc of parsed.documents) {
      bundle.issues.push(...inlineTemplateFiles(doc));
      bundle.documents.push(doc);
    }
  }
  return bundle;
}

function yamlFilesUnder(dir: string): string[] {
  const found: string[] = [];
  const walk = (at: string): void => {
    for (const entry of readdirSync(at, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      if (entry.name.startsWith('.') || entry.name === 'node_modules') continue;
      const full = join(at, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (/\.ya?ml$/i.test(entry.name)) found.push(full);
      if (found.length > bundleLimits.files) return;
    }
  };
  walk(dir);
  return found;
}

function readText(file: string, maxBytes: number): string | { error: string } {
  try {
    const size = statSync(file).size;
    if (size > maxBytes) return { error: `${file} is ${size} bytes; at most ${maxBytes}` };
    return readFileSync(file, 'utf8');
  } catch (err) {
    return { error: `cannot read ${file}: ${(err as Error).message}` };
  }
}

function fileIssue(file: string, line: number | undefined, path: string, message: string): DefinitionIssue {
  return { file, ...(line === undefined ? {} : { line }), path, code: 'BUNDLE_FILE_UNREADABLE', message };
}

/** The file a template field names, or undefined when the field is inline text. */
function referencedFile(value: unknown): string | undefined {
  if (typeof value === 'string') return templateFilePattern.test(value) ? value : undefined;
  if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
    const entries = Object.entries(value);
    if (entries.length === 1 && entries[0]?.[0] === 'file' && typeof entries[0][1] === 'string') return entries[0][1];
  }
  return undefined;
}

/** Replaces the file references of a Template document by the files' text; returns the problems. */
export function inlineTemplateFiles(doc: BundleDocument): DefinitionIssue[] {
  const document = doc.document as Record<string, unknown> | null;
  if (typeof document !== 'object' || document === null || document.kind !== 'Template') return [];
  const holders: Array<[Record<string, unknown>, string]> = [[document, '']];
  const languages = document.languages;
  if (typeof languages === 'object' && languages !== null && !Array.isArray(languages)) {
    for (const [code, content] of Object.entries(languages)) {
      if (typeof content === 'object' && content !== null) holders.push([content as Record<string, unknown>, `languages.${code}.`]);
    }
  }
  const issues: DefinitionIssue[] = [];
  for (const [holder, prefix] of holders) {
    for (const field of templateFields) {
      const ref = Object.hasOwn(holder, field) ? referencedFile(holder[field]) : undefined;
      if (ref === undefined) continue;
      const path = `${prefix}${field}`;
      const text = readText(resolve(dirname(doc.file), ref), bundleLimits.templateFileBytes);
      if (typeof text === 'string') holder[field] = text;
      else issues.push(fileIssue(doc.file, lineOf(doc, path), path, `${text.error} (a template file is named relative to its YAML file)`));
    }
  }
  return issues;
}

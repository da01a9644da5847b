// A bundle of definitions: the documents of one or more multi-document YAML files, each with the
// file and line it came from and the line of every key inside it, so that every problem found
// later (here, by the kind parsers, or by the admin API against what is stored) is reported with
// file and line. This is also the JSON that `rebound apply` sends to POST /admin/apply.
// Loading files and folders, and inlining template files, is bundle-files.ts.
import { isMap, isPair, isScalar, isSeq, LineCounter, parseAllDocuments, type Node } from 'yaml';
import type { DefinitionIssue } from './definition-issues.js';

export interface BundleDocument {
  /** The YAML file, as the user named it (or a label such as `request`). */
  file: string;
  /** 1-based line of the document's first content. */
  line: number;
  /** Line of each key or list item inside the document, by dot path (`include.containers.0`). */
  lines?: Record<string, number>;
  document: unknown;
}

export interface Bundle {
  documents: BundleDocument[];
  issues: DefinitionIssue[];
}

/** Aliases expanded per document at most (a "billion laughs" file is refused, not expanded). */
const maxAliasCount = 100;

/** Every document of one YAML text; syntax errors become issues with their line. */
export function parseYamlDocuments(text: string, file: string): Bundle {
  const lineCounter = new LineCounter();
  const parsed = parseAllDocuments(text, { lineCounter, prettyErrors: true });
  const bundle: Bundle = { documents: [], issues: [] };
  if (!Array.isArray(parsed)) return bundle; // an empty stream
  for (const doc of parsed) {
    const line = doc.contents?.range ? lineCounter.linePos(doc.contents.range[0]).line : lineCounter.linePos(doc.range[0]).line;
    if (doc.errors.length > 0) {
      for (const error of doc.errors) {
        const at = error.linePos?.[0]?.line ?? line;
        bundle.issues.push({ file, line: at, path: '', code: 'BUNDLE_YAML_INVALID', message: firstLine(error.message) });
      }
      continue;
    }
    if (doc.contents === null) continue; // `---` with nothing after it
    try {
      const document: unknown = doc.toJS({ maxAliasCount });
      const lines: Record<string, number> = {};
      collectLines(doc.contents as Node, [], lines, lineCounter);
      bundle.documents.push({ file, line, lines, document });
    } catch (err) {
      bundle.issues.push({ file, line, path: '', code: 'BUNDLE_YAML_INVALID', message: (err as Error).message });
    }
  }
  return bundle;
}

function firstLine(message: string): string {
  return message.split('\n', 1)[0] ?? message;
}

/** Records the line of every map key and list item below `node`, by dot path. */
function collectLines(node: Node | null | undefined, path: string[], lines: Record<string, number>, counter: LineCounter): void {
  if (isMap(node)) {
    for (const pair of node.items) {
      if (!isPair(pair)) continue;
      const key = isScalar(pair.key) ? String(pair.key.value) : undefined;
      if (key === undefined) continue;
      const at = [...path, key];
      const start = (pair.key as Node).range?.[0];
      if (start !== undefined) lines[at.join('.')] = counter.linePos(start).line;
      collectLines(pair.value as Node | null, at, lines, counter);
    }
  } else if (isSeq(node)) {
    node.items.forEach((item, i) => {
      const at = [...path, String(i)];
      const start = (item as Node | null)?.range?.[0];
      if (start !== undefined) lines[at.join('.')] = counter.linePos(start).line;
      collectLines(item as Node | null, at, lines, counter);
    });
  }
}

/** The line of `path` in a document: its own line, else its nearest parent's, else the document's. */
export function lineOf(doc: Pick<BundleDocument, 'line' | 'lines'>, path: string): number {
  if (doc.lines === undefined || path === '') return doc.line;
  const parts = path.split('.');
  for (let n = parts.length; n > 0; n--) {
    const line = doc.lines[parts.slice(0, n).join('.')];
    if (line !== undefined) return line;
  }
  return doc.line;
}

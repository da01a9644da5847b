// Validates every document of a bundle without looking at what is stored: a known kind, a valid
// document (the kind's own parser), one definition per kind and id. Every problem is reported
// with file, line and path; `rebound apply` runs this locally and the admin API again.
import type { DefinitionIssue } from './definition-issues.js';
import type { DefinitionKind } from './definition-kind.js';
import { definitionKinds, kindByName, validationIssues } from './kinds.js';
import { lineOf, type BundleDocument } from './bundle.js';

export interface CheckedDocument {
  kind: DefinitionKind;
  id: string;
  source: BundleDocument;
}

export interface BundleCheck {
  checked: CheckedDocument[];
  issues: DefinitionIssue[];
}

const where = (doc: BundleDocument, path: string): Pick<DefinitionIssue, 'file' | 'line' | 'path'> => ({ file: doc.file, line: lineOf(doc, path), path });

export function checkBundle(documents: readonly BundleDocument[]): BundleCheck {
  const result: BundleCheck = { checked: [], issues: [] };
  const seen = new Map<string, BundleDocument>();
  for (const doc of documents) {
    const body = doc.document;
    if (typeof body !== 'object' || body === null || Array.isArray(body)) {
      result.issues.push({ ...where(doc, ''), code: 'BUNDLE_DOCUMENT_INVALID', message: 'a definition is a mapping with `kind` and `id`' });
      continue;
    }
    const { kind: kindName, id } = body as { kind?: unknown; id?: unknown };
    const kind = typeof kindName === 'string' ? kindByName(kindName) : undefined;
    if (kind === undefined) {
      const known = definitionKinds.map((k) => k.kind).join(', ');
      const message = kindName === undefined ? `no kind; one of ${known}` : `unknown kind ${JSON.stringify(kindName)}; one of ${known}`;
      result.issues.push({ ...where(doc, 'kind'), code: 'BUNDLE_DOCUMENT_INVALID', message });
      continue;
    }
    const label = typeof id === 'string' ? id : undefined;
    const origin = `${kind.kind} ${label ?? '?'}`;
    const problems = validationIssues(kind, body, origin).map((issue) => ({ ...issue, ...where(doc, issue.path), kind: kind.kind, ...(label === undefined ? {} : { id: label }) }));
    result.issues.push(...problems);
    if (label === undefined || problems.length > 0) continue;
    const key = `${kind.kind}\u0000${label}`;
    const first = seen.get(key);
    if (first !== undefined) {
      result.issues.push({ ...where(doc, 'id'), code: 'BUNDLE_DOCUMENT_INVALID', kind: kind.kind, id: label, message: `${kind.kind} ${label} is defined twice (first at ${first.file}:${first.line})` });
      continue;
    }
    seen.set(key, doc);
    result.checked.push({ kind, id: label, source: doc });
  }
  result.issues.push(...channelMismatches(result.checked));
  return result;
}

/** An event and its template brought by the same bundle must be on one channel (the stores check stored ones). */
function channelMismatches(checked: readonly CheckedDocument[]): DefinitionIssue[] {
  const field = (doc: CheckedDocument, name: string): unknown => (doc.source.document as Record<string, unknown>)[name];
  const templates = new Map(checked.filter((d) => d.kind.kind === 'Template').map((d) => [d.id, field(d, 'channel')]));
  return checked
    .filter((d) => d.kind.kind === 'Event' && templates.has(String(field(d, 'template'))) && templates.get(String(field(d, 'template'))) !== field(d, 'channel'))
    .map((d) => ({
      ...where(d.source, 'template'),
      code: 'TEMPLATE_CHANNEL_MISMATCH',
      kind: 'Event',
      id: d.id,
      message: `template ${String(field(d, 'template'))} is an ${String(templates.get(String(field(d, 'template'))))} template; this event sends ${String(field(d, 'channel'))}`,
    }));
}

// Validation problems of definitions, one per problem: what `rebound apply` prints with file and
// line and what the admin API answers with 422. The kind parsers (parseSource, parseTrigger, …)
// throw one ReboundError listing every problem as "  path: message" lines; issuesOf splits it.
import { ReboundError, asReboundError, type ErrorCode } from '../core/errors.js';

export interface DefinitionIssue {
  /** Where in the document, dot-separated (`include.containers.0.0.op`); '' for the whole document. */
  path: string;
  code: ErrorCode;
  message: string;
  /** The YAML file and the line of the problem (or of its document) when it came from a file. */
  file?: string;
  line?: number;
  /** The document's kind and id, when known. */
  kind?: string;
  id?: string;
}

const issueLine = /^ {2}(\S[^\n]*?): (.*)$/;

/** One issue per problem listed by a kind parser's error; any other error is one issue. */
export function issuesOf(err: unknown, fallbackCode: ErrorCode = 'BUNDLE_DOCUMENT_INVALID'): DefinitionIssue[] {
  const error = err instanceof ReboundError ? err : asReboundError(err, fallbackCode);
  const listed = error.message
    .split('\n')
    .slice(1)
    .map((line) => issueLine.exec(line))
    .filter((match): match is RegExpExecArray => match !== null);
  if (listed.length === 0) return [{ path: '', code: error.code, message: error.message }];
  return listed.map((match) => ({ path: match[1] === '(top level)' ? '' : (match[1] as string), code: error.code, message: match[2] as string }));
}

/** "file:line: path: message (CODE)", the way the CLI prints an issue. */
export function formatIssue(issue: DefinitionIssue): string {
  const where = issue.file === undefined ? '' : `${issue.file}${issue.line === undefined ? '' : `:${issue.line}`}: `;
  const what = issue.kind === undefined ? '' : `${issue.kind} ${issue.id ?? '?'}: `;
  const path = issue.path === '' ? '' : `${issue.path}: `;
  return `${where}${what}${path}${issue.message} (${issue.code})`;
}

/** The error of a whole bundle or request that has problems: nothing of it was applied. */
export class DefinitionsInvalid extends ReboundError {
  readonly issues: readonly DefinitionIssue[];

  constructor(issues: readonly DefinitionIssue[], what = 'the bundle') {
    super('DEFINITIONS_INVALID', `${issues.length} problem${issues.length === 1 ? '' : 's'} in ${what}; nothing was applied`);
    this.issues = issues;
  }
}

// Applies a bundle of definitions all or nothing (POST /admin/apply, `rebound apply`, and each
// PUT/DELETE of a definition): validate every document, plan every change against what is
// stored (created / changed / unchanged, and with `prune` the deletes), refuse the whole bundle
// on any problem, and otherwise write every change in one Lua script (lua/defs-apply.lua) that
// checks the definitions version it was planned at. Every definitions key shares the `{defs}`
// hash tag, so this holds on Redis Cluster too. A concurrent change makes the script write
// nothing; the bundle is then planned again (a few times, then DEFINITIONS_CONFLICT).
import { ReboundError, isReboundError } from '../core/errors.js';
import { checkBundle, type CheckedDocument } from '../model/bundle-check.js';
import { lineOf, type BundleDocument } from '../model/bundle.js';
import { DefinitionsInvalid, issuesOf, type DefinitionIssue } from '../model/definition-issues.js';
import { bundleKey, type DefinitionContext, type DefinitionKind, type DefinitionWrite } from '../model/definition-kind.js';
import { commitWrites } from '../model/event-store.js';
import { definitionKinds } from '../model/kinds.js';

export interface ApplyOptions {
  dryRun: boolean;
  prune: boolean;
}

export interface AppliedItem {
  kind: string;
  id: string;
  file?: string;
  line?: number;
}

export interface ApplyResult {
  dryRun: boolean;
  created: AppliedItem[];
  changed: AppliedItem[];
  unchanged: AppliedItem[];
  deleted: AppliedItem[];
}

interface Plan {
  result: ApplyResult;
  issues: DefinitionIssue[];
  writes: DefinitionWrite[];
}

const attempts = 5;

/** The problems a plan reported; anything else (Redis down, a bug) is not the bundle's fault: rethrown. */
function problemsOf(err: unknown): DefinitionIssue[] {
  if (isReboundError(err) && err.status < 500) return issuesOf(err);
  throw err;
}

export async function applyBundle(ctx: DefinitionContext, documents: readonly BundleDocument[], options: ApplyOptions): Promise<ApplyResult> {
  const check = checkBundle(documents);
  if (options.prune && documents.length === 0) {
    throw new DefinitionsInvalid([{ path: '', code: 'BUNDLE_DOCUMENT_INVALID', message: 'refusing to prune with an empty bundle: it would delete every definition' }]);
  }
  ctx = { ...ctx, bundle: new Set(check.checked.map((doc) => bundleKey(doc.kind.kind, doc.id))) };
  for (let attempt = 1; attempt <= attempts; attempt++) {
    const version = await currentVersion(ctx);
    // The valid documents are planned even when others are not, so that every problem (those
    // of the documents and those against what is stored) is reported at once.
    const preview = await plan(ctx, check.checked, options.prune && check.issues.length === 0, false);
    if (check.issues.length + preview.issues.length > 0) throw new DefinitionsInvalid([...check.issues, ...preview.issues]);
    if (options.dryRun) return preview.result;
    const { created, changed, deleted } = preview.result;
    if (created.length + changed.length + deleted.length === 0) return { ...preview.result, dryRun: false };
    // Planned again to commit: identity counters (a new trigger's slot, a version) are taken
    // only once the whole bundle is known to be valid. The version check of the commit makes
    // sure nothing changed between the two plans and the write.
    const final = await plan(ctx, check.checked, options.prune, true);
    if (final.issues.length > 0) throw new DefinitionsInvalid(final.issues);
    if (await commitWrites(ctx.redis, ctx.keys, version, final.writes)) return final.result;
  }
  throw new ReboundError('DEFINITIONS_CONFLICT', `the definitions kept changing during the apply (${attempts} attempts); nothing was written, apply again`);
}

/** Deletes one definition the same way (lifecycle checks, version-checked write). */
export async function deleteDefinition(ctx: DefinitionContext, kind: DefinitionKind, id: string): Promise<boolean> {
  for (let attempt = 1; attempt <= attempts; attempt++) {
    const version = await currentVersion(ctx);
    let writes: DefinitionWrite[] | undefined;
    try {
      writes = await kind.planDelete(ctx, id);
    } catch (err) {
      throw new DefinitionsInvalid(problemsOf(err).map((issue) => ({ ...issue, kind: kind.kind, id })), `the delete of ${kind.kind} ${id}`);
    }
    if (writes === undefined) return false;
    if (await commitWrites(ctx.redis, ctx.keys, version, writes)) return true;
  }
  throw new ReboundError('DEFINITIONS_CONFLICT', `the definitions kept changing during the delete (${attempts} attempts); nothing was deleted, try again`);
}

async function currentVersion({ redis, keys }: DefinitionContext): Promise<string> {
  return (await redis.get(keys.definitionsVersion())) ?? '0';
}

const itemOf = (doc: CheckedDocument): AppliedItem => ({ kind: doc.kind.kind, id: doc.id, file: doc.source.file, line: doc.source.line });

/** Plans every document, kind by kind in registry order, and with `prune` the deletes. */
async function plan(ctx: DefinitionContext, checked: readonly CheckedDocument[], prune: boolean, commit: boolean): Promise<Plan> {
  const out: Plan = { result: { dryRun: !commit, created: [], changed: [], unchanged: [], deleted: [] }, issues: [], writes: [] };
  for (const kind of definitionKinds) {
    const docs = checked.filter((d) => d.kind === kind);
    for (const doc of docs) {
      try {
        const change = await kind.plan(ctx, doc.id, doc.source.document, commit);
        out.result[change.outcome].push(itemOf(doc));
        out.writes.push(...change.writes);
      } catch (err) {
        for (const issue of problemsOf(err)) out.issues.push({ ...issue, file: doc.source.file, line: lineOf(doc.source, issue.path), kind: kind.kind, id: doc.id });
      }
    }
    if (prune) await planPrune(ctx, kind, new Set(docs.map((d) => d.id)), out);
  }
  return out;
}

async function planPrune(ctx: DefinitionContext, kind: DefinitionKind, kept: ReadonlySet<string>, out: Plan): Promise<void> {
  for (const id of (await kind.ids(ctx)).sort()) {
    if (kept.has(id)) continue;
    try {
      const writes = await kind.planDelete(ctx, id);
      if (writes === undefined) continue;
      out.result.deleted.push({ kind: kind.kind, id });
      out.writes.push(...writes);
    } catch (err) {
      out.issues.push(...problemsOf(err).map((issue) => ({ ...issue, kind: kind.kind, id })));
    }
  }
}

// Routes of the definitions (SPEC §8): per kind of the registry (src/model/kinds.ts)
// GET /admin/<collection>, GET|PUT|DELETE /admin/<collection>/<id>; and POST /admin/apply,
// the whole bundle `rebound apply` sends. A PUT is an apply of one document, so it takes the
// same checks (422 with every problem) and the same all-or-nothing write.
import { z } from 'zod';
import { ReboundError } from '../core/errors.js';
import type { BundleDocument } from '../model/bundle.js';
import { DefinitionsInvalid } from '../model/definition-issues.js';
import type { DefinitionContext, DefinitionKind } from '../model/definition-kind.js';
import { definitionKinds } from '../model/kinds.js';
import { applyBundle, deleteDefinition } from './apply.js';
import { json, type AdminReply, type Router } from './router.js';

export type ContextFactory = () => DefinitionContext;

const bundleRequest = z
  .object({
    documents: z
      .array(
        z.object({
          file: z.string().max(4096),
          line: z.number().int().min(1),
          lines: z.record(z.string(), z.number().int().min(1)).optional(),
          document: z.unknown(),
        }),
      )
      .max(10_000),
    dryRun: z.boolean().default(false),
    prune: z.boolean().default(false),
  })
  .strict();

/** Parses a request body with a schema; a mismatch is ADMIN_BODY_MALFORMED naming the field. */
export function parseBody<T extends z.ZodTypeAny>(schema: T, body: unknown): z.output<T> {
  const result = schema.safeParse(body ?? {});
  if (result.success) return result.data as z.output<T>;
  const problems = result.error.issues.map((i) => `${i.path.join('.') || '(body)'}: ${i.message}`).join('; ');
  throw new ReboundError('ADMIN_BODY_MALFORMED', `unexpected request body: ${problems}`);
}

function notFound(kind: DefinitionKind, id: string): ReboundError {
  return new ReboundError('DEFINITION_NOT_FOUND', `no ${kind.kind} ${JSON.stringify(id)}`);
}

/** Issues of a single-document request carry no file and line: only the path. */
function withoutFile(err: unknown): never {
  if (err instanceof DefinitionsInvalid) throw new DefinitionsInvalid(err.issues.map(({ file: _f, line: _l, ...issue }) => issue), 'the request');
  throw err;
}

async function put(context: DefinitionContext, kind: DefinitionKind, id: string, body: unknown): Promise<AdminReply> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new ReboundError('ADMIN_BODY_MALFORMED', `the body is the ${kind.kind} document as a JSON object`);
  const given = body as Record<string, unknown>;
  const mismatch = (['kind', 'id'] as const).filter((field) => given[field] !== undefined && given[field] !== { kind: kind.kind, id }[field]);
  if (mismatch.length > 0) {
    throw new DefinitionsInvalid(mismatch.map((field) => ({ path: field, code: 'BUNDLE_DOCUMENT_INVALID', message: `${field} must be ${JSON.stringify({ kind: kind.kind, id }[field])} on this URL` })), 'the request');
  }
  const document: BundleDocument = { file: 'request', line: 1, document: { ...given, kind: kind.kind, id } };
  const result = await applyBundle(context, [document], { dryRun: false, prune: false }).catch(withoutFile);
  const outcome = result.created.length > 0 ? 'created' : result.changed.length > 0 ? 'changed' : 'unchanged';
  return json({ outcome, item: (await kind.show(context, id)) ?? null }, outcome === 'created' ? 201 : 200);
}

export function registerDefinitionRoutes(router: Router, context: ContextFactory): void {
  for (const kind of definitionKinds) {
    const base = `/admin/${kind.resource}`;
    router.add('GET', base, async () => json({ items: await kind.showAll(context()) }));
    router.add('GET', `${base}/:id`, async ({ params }) => {
      const id = params.id as string;
      const item = await kind.show(context(), id);
      if (item === undefined) throw notFound(kind, id);
      return json(item);
    });
    router.add('PUT', `${base}/:id`, ({ params, body }) => put(context(), kind, params.id as string, body));
    router.add('DELETE', `${base}/:id`, async ({ params }) => {
      const id = params.id as string;
      const deleted = await deleteDefinition(context(), kind, id).catch(withoutFile);
      if (!deleted) throw notFound(kind, id);
      return json({ deleted: { kind: kind.kind, id } });
    });
  }
  router.add('POST', '/admin/apply', async ({ body }) => {
    const request = parseBody(bundleRequest, body);
    const documents = request.documents.map((doc): BundleDocument => ({ file: doc.file, line: doc.line, document: doc.document, ...(doc.lines === undefined ? {} : { lines: doc.lines }) }));
    return json(await applyBundle(context(), documents, { dryRun: request.dryRun, prune: request.prune }));
  });
}

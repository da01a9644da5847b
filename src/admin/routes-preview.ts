// Preview and proof routes (SPEC §6.6, §8):
//   POST /admin/templates/{id}/preview[?version=N]  {"testProfile": "tp-…"} or {"profile": {…}, "ctx": {…}},
//                                                   optional "event": "EVT…" (whose enrichment applies)
//   POST /admin/templates/{id}/proof[?version=N]    {"testProfile": "tp-…"}
// Without `version` the draft is rendered. A render error is 422 TEMPLATE_RENDER_FAILED with the
// template field at fault as its path.
import { z } from 'zod';
import { ReboundError } from '../core/errors.js';
import { unsafeKeyPaths } from '../model/event.js';
import { renderPreview, type PreviewRequest } from './preview.js';
import { sendProof, type ProofDeps } from './proof.js';
import { parseBody } from './routes-definitions.js';
import { json, type Router } from './router.js';

const name = z.string().min(1).max(64);

const previewBody = z
  .object({
    testProfile: name.optional(),
    profile: z.record(z.string(), z.unknown()).optional(),
    ctx: z.record(z.string(), z.unknown()).optional(),
    event: name.optional(),
  })
  .strict()
  .refine((b) => b.testProfile === undefined || (b.profile === undefined && b.ctx === undefined), 'give a testProfile, or profile and ctx data, not both');

const proofBody = z.object({ testProfile: name }).strict();

/** `?version=N`: a published version number; undefined for the draft. */
function versionOf(query: URLSearchParams): number | undefined {
  const text = query.get('version');
  if (text === null || text === '' || text === 'draft') return undefined;
  const version = Number(text);
  if (!/^\d{1,9}$/.test(text) || version < 1) throw new ReboundError('ADMIN_QUERY_INVALID', 'version: a published version number (1, 2, …), or draft');
  return version;
}

function checkKeys(body: unknown): void {
  const unsafe = unsafeKeyPaths(body);
  if (unsafe.length > 0) throw new ReboundError('ADMIN_BODY_MALFORMED', `prototype keys are refused: ${unsafe.join(', ')}`);
}

export function registerPreviewRoutes(router: Router, deps: ProofDeps): void {
  router.add('POST', '/admin/templates/:id/preview', async ({ params, query, body }) => {
    checkKeys(body);
    const given = parseBody(previewBody, body);
    const request: PreviewRequest = { templateId: params.id as string };
    const version = versionOf(query);
    if (version !== undefined) request.version = version;
    if (given.testProfile !== undefined) request.testProfile = given.testProfile;
    if (given.profile !== undefined) request.profile = given.profile;
    if (given.ctx !== undefined) request.ctx = given.ctx;
    if (given.event !== undefined) request.event = given.event;
    return json((await renderPreview(deps, request)).preview);
  });
  router.add('POST', '/admin/templates/:id/proof', async ({ params, query, body }) => {
    const { testProfile } = parseBody(proofBody, body);
    const version = versionOf(query);
    return json(await sendProof(deps, { templateId: params.id as string, testProfile, ...(version === undefined ? {} : { version }) }), 202);
  });
}

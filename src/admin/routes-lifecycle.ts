// Lifecycle routes (SPEC §6.1, §8): POST /admin/events/{id}/publish|pause|resume|unpublish,
// POST /admin/templates/{id}/publish|pause|resume|unpublish and GET /admin/templates/{id}/versions.
// The rules are lifecycle.ts's: a forbidden transition is 409 LIFECYCLE_FORBIDDEN saying what to
// do first, an unknown id 404 DEFINITION_NOT_FOUND. DELETE goes through the definitions routes.
import { ReboundError } from '../core/errors.js';
import type { RedisPort } from '../core/redis/client.js';
import type { Keys } from '../core/redis/keys.js';
import {
  pauseEvent,
  pauseTemplate,
  publishEvent,
  publishTemplate,
  resumeEvent,
  resumeTemplate,
  unpublishEvent,
  unpublishTemplate,
  type LifecycleOptions,
} from '../model/lifecycle.js';
import { getTemplate, listTemplateVersions } from '../model/template-store.js';
import { json, type Router } from './router.js';

export interface LifecycleDeps {
  redis: RedisPort;
  keys: Keys;
  smsMaxSegments: number;
}

type Action = (redis: RedisPort, keys: Keys, id: string, options?: LifecycleOptions) => Promise<unknown>;

const eventActions: Record<string, Action> = { publish: publishEvent, pause: pauseEvent, resume: resumeEvent, unpublish: unpublishEvent };
const templateActions: Record<string, Action> = { publish: publishTemplate, pause: pauseTemplate, resume: resumeTemplate, unpublish: unpublishTemplate };

export function registerLifecycleRoutes(router: Router, { redis, keys, smsMaxSegments }: LifecycleDeps): void {
  for (const [collection, actions] of [['events', eventActions], ['templates', templateActions]] as const) {
    for (const [name, action] of Object.entries(actions)) {
      router.add('POST', `/admin/${collection}/:id/${name}`, async ({ params }) => json(await action(redis, keys, params.id as string, { now: Date.now(), smsMaxSegments })));
    }
  }
  router.add('GET', '/admin/templates/:id/versions', async ({ params }) => {
    const id = params.id as string;
    const versions = await listTemplateVersions(redis, keys, id);
    if (versions.length === 0 && (await getTemplate(redis, keys, id)) === undefined) {
      throw new ReboundError('DEFINITION_NOT_FOUND', `template ${id} does not exist`, { path: `template ${id}` });
    }
    return json({ id, versions });
  });
}

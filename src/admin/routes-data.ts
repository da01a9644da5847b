// Routes of the campaign data (SPEC §8): profiles, resource rows (resources/{name}, catalog
// included) and the suppression list. Definitions of resource tables are a definitions kind
// (GET|PUT|DELETE /admin/resources/{name}); their rows live one level below.
//   GET|PUT|DELETE /admin/profiles/{id}, GET /admin/profiles?field=email&value=… (lookup)
//   GET|PUT|DELETE /admin/resources/{name}/{key}, POST /admin/resources/{name}/rows {rows: […]}
//   GET /admin/suppressions?cursor=&count=, GET|PUT|DELETE /admin/suppressions/{address or phone}
import { z } from 'zod';
import { ReboundError } from '../core/errors.js';
import type { RedisPort } from '../core/redis/client.js';
import type { Keys } from '../core/redis/keys.js';
import { DefinitionsInvalid, issuesOf, type DefinitionIssue } from '../model/definition-issues.js';
import { parseProfile } from '../model/profile.js';
import type { ProfileStore } from '../model/profile-store.js';
import { parseResourceRow } from '../model/resource.js';
import { deleteRows, getRows, requireResource, upsertRows } from '../model/resource-store.js';
import { addSuppressions, listSuppressions, removeSuppressions, suppressedAmong } from '../model/suppressions.js';
import { parseBody } from './routes-definitions.js';
import { limitOf } from './routes-operations.js';
import { json, type Router } from './router.js';

export interface DataDeps {
  redis: RedisPort;
  keys: Keys;
  profiles: ProfileStore;
}

const notFound = (what: string): ReboundError => new ReboundError('ADMIN_NOT_FOUND', `no ${what}`);

function object(body: unknown, what: string): Record<string, unknown> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new ReboundError('ADMIN_BODY_MALFORMED', `the body is the ${what} as a JSON object`);
  return body as Record<string, unknown>;
}

function keyMismatch(field: string, expected: string): DefinitionsInvalid {
  return new DefinitionsInvalid([{ path: field, code: 'ADMIN_BODY_MALFORMED', message: `${field} must be ${JSON.stringify(expected)} on this URL` }], 'the request');
}

const rowsBody = z.object({ rows: z.array(z.unknown()).min(1).max(10_000) }).strict();

function registerProfiles(router: Router, { profiles }: DataDeps): void {
  router.add('GET', '/admin/profiles', async ({ query }) => {
    const field = query.get('field');
    const value = query.get('value');
    if (field === null || value === null) throw new ReboundError('ADMIN_QUERY_INVALID', 'field and value: profiles are looked up (GET /admin/profiles?field=email&value=…) or read by id, not listed');
    const ids = await profiles.lookupProfiles(field, value, { hashed: query.get('hashed') === 'true' });
    return json({ items: [...(await profiles.getMany(ids)).values()] });
  });
  router.add('GET', '/admin/profiles/:id', async ({ params }) => {
    const profile = await profiles.get(params.id as string);
    if (profile === undefined) throw notFound(`profile ${params.id}`);
    return json(profile);
  });
  router.add('PUT', '/admin/profiles/:id', async ({ params, body }) => {
    const id = params.id as string;
    const given = object(body, 'profile');
    if (given.id !== undefined && given.id !== id) throw keyMismatch('id', id);
    const profile = parseProfile({ ...given, id }, `profile ${id}`);
    const existed = (await profiles.get(id)) !== undefined;
    await profiles.upsert([profile]);
    return json(profile, existed ? 200 : 201);
  });
  router.add('DELETE', '/admin/profiles/:id', async ({ params }) => {
    if ((await profiles.delete([params.id as string])) === 0) throw notFound(`profile ${params.id}`);
    return json({ deleted: { profile: params.id } });
  });
}

function registerRows(router: Router, { redis, keys }: DataDeps): void {
  router.add('GET', '/admin/resources/:name/:key', async ({ params }) => {
    const resource = await requireResource(redis, keys, params.name as string);
    const row = (await getRows(redis, keys, resource.id, [params.key as string])).get(params.key as string);
    if (row === undefined) throw notFound(`${resource.id} row ${params.key}`);
    return json(row);
  });
  router.add('PUT', '/admin/resources/:name/:key', async ({ params, body }) => {
    const resource = await requireResource(redis, keys, params.name as string);
    const key = params.key as string;
    const given = object(body, `${resource.id} row`);
    if (given[resource.key] !== undefined && String(given[resource.key]) !== key) throw keyMismatch(resource.key, key);
    const parsed = parseResourceRow(resource, { ...given, [resource.key]: given[resource.key] ?? key });
    const existed = (await getRows(redis, keys, resource.id, [key])).has(key);
    await upsertRows(redis, keys, resource.id, [parsed]);
    return json(parsed.row, existed ? 200 : 201);
  });
  router.add('DELETE', '/admin/resources/:name/:key', async ({ params }) => {
    const resource = await requireResource(redis, keys, params.name as string);
    if ((await deleteRows(redis, keys, resource.id, [params.key as string])) === 0) throw notFound(`${resource.id} row ${params.key}`);
    return json({ deleted: { resource: resource.id, key: params.key } });
  });
  router.add('POST', '/admin/resources/:name/rows', async ({ params, body }) => {
    const resource = await requireResource(redis, keys, params.name as string);
    const { rows } = parseBody(rowsBody, body);
    const parsed: Array<{ key: string; row: Record<string, unknown> }> = [];
    const issues: DefinitionIssue[] = [];
    rows.forEach((raw, index) => {
      try {
        parsed.push(parseResourceRow(resource, raw, `${resource.id} row ${index}`));
      } catch (err) {
        issues.push(...issuesOf(err).map((issue) => ({ ...issue, path: `rows.${index}${issue.path === '' ? '' : `.${issue.path}`}` })));
      }
    });
    if (issues.length > 0) throw new DefinitionsInvalid(issues, 'the rows');
    await upsertRows(redis, keys, resource.id, parsed);
    return json({ upserted: parsed.length });
  });
}

function registerSuppressions(router: Router, { redis, keys }: DataDeps): void {
  router.add('GET', '/admin/suppressions', async ({ query }) => json(await listSuppressions(redis, keys, query.get('cursor') ?? '0', limitOf(query, 1000, 10_000))));
  router.add('GET', '/admin/suppressions/:value', async ({ params }) => {
    const value = params.value as string;
    return json({ value, suppressed: (await suppressedAmong(redis, keys, [value])).has(value) });
  });
  router.add('PUT', '/admin/suppressions/:value', async ({ params }) => json({ value: params.value, added: (await addSuppressions(redis, keys, [params.value])) > 0 }));
  router.add('DELETE', '/admin/suppressions/:value', async ({ params }) => json({ value: params.value, removed: (await removeSuppressions(redis, keys, [params.value])) > 0 }));
}

export function registerDataRoutes(router: Router, deps: DataDeps): void {
  registerProfiles(router, deps);
  registerRows(router, deps);
  registerSuppressions(router, deps);
}

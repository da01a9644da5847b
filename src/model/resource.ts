// Resources (SPEC §6.3): keyed tables of the datamart that enrichment joins on. `catalog`, keyed
// by `sku`, is built in; any other table is declared by a `kind: Resource` document naming its key
// field. `parseResource` validates a definition (RESOURCE_INVALID), `parseResourceRow` one row of
// a table (RESOURCE_ROW_INVALID), each listing every problem with its path.
import { z } from 'zod';
import {
  datamartLimits,
  invalidDocument,
  isPlainObject,
  isPrototypeKey,
  jsonProblems,
  sizeProblem,
  type Problem,
} from './profile-values.js';

const slug = /^[a-z0-9][a-z0-9-]{0,63}$/;
const fieldName = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;

export const resourceSchema = z
  .object({
    kind: z.literal('Resource'),
    id: z.string().regex(slug, 'a slug: lower-case letters, digits and -, at most 64, not starting with -'),
    key: z.string().regex(fieldName, 'a field name: letters, digits and _, not starting with a digit, at most 64'),
    description: z.string().max(1000).optional(),
  })
  .strict()
  .refine((r) => r.id !== 'catalog' || r.key === 'sku', { message: 'catalog is built in and keyed by sku', path: ['key'] });

export type ResourceDefinition = z.output<typeof resourceSchema>;

/** The built-in product catalog. */
export const catalogResource: ResourceDefinition = { kind: 'Resource', id: 'catalog', key: 'sku' };

export function isResourceName(name: string): boolean {
  return slug.test(name);
}

export function parseResource(document: unknown, origin = 'resource'): ResourceDefinition {
  const problems: Problem[] = [];
  if (isPlainObject(document)) for (const key of Object.keys(document)) if (isPrototypeKey(key)) problems.push({ path: key, message: 'prototype keys are refused' });
  const result = resourceSchema.safeParse(document);
  if (!result.success) problems.push(...result.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message })));
  if (problems.length === 0 && result.success) return result.data;
  throw invalidDocument('RESOURCE_INVALID', origin, problems);
}

export type ResourceRow = Record<string, unknown>;

function keyProblem(value: unknown): string | undefined {
  if (value === undefined || value === null) return 'required: the key field of the table';
  if (typeof value === 'number') return Number.isSafeInteger(value) ? undefined : 'a number key must be an integer';
  if (typeof value !== 'string' || value.trim() === '') return 'expected a non-empty string or an integer';
  return value.length > datamartLimits.keyChars ? `at most ${datamartLimits.keyChars} characters` : undefined;
}

/** A row's key as stored and joined on: the text of its key field. */
export function rowKeyOf(resource: ResourceDefinition, row: ResourceRow): string {
  return String(row[resource.key]);
}

/** Validates one row of a table; throws RESOURCE_ROW_INVALID listing every problem. */
export function parseResourceRow(resource: ResourceDefinition, raw: unknown, origin = `${resource.id} row`): { key: string; row: ResourceRow } {
  if (!isPlainObject(raw)) throw invalidDocument('RESOURCE_ROW_INVALID', origin, [{ path: '(top level)', message: 'a row is a JSON object' }]);
  const problems: Problem[] = [];
  const issue = keyProblem(raw[resource.key]);
  if (issue !== undefined) problems.push({ path: resource.key, message: issue });
  jsonProblems(raw, '', problems);
  const tooBig = problems.length === 0 ? sizeProblem(raw, 'the row') : undefined;
  if (tooBig) problems.push(tooBig);
  if (problems.length > 0) throw invalidDocument('RESOURCE_ROW_INVALID', origin, problems);
  return { key: rowKeyOf(resource, raw), row: raw };
}

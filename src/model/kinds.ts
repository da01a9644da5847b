// The definition kinds that `rebound apply` and the admin API handle, one entry per kind: its
// YAML `kind`, its REST collection, validation and storage (definition-kind.ts). Adding a kind
// is one entry in `definitionKinds`.
import { issuesOf, type DefinitionIssue } from './definition-issues.js';
import { documentKind, type DefinitionKind } from './definition-kind.js';
import { eventKind, templateKind, testProfileKind } from './kinds-campaign.js';
import { triggerKind } from './kinds-trigger.js';
import { catalogResource, parseResource } from './resource.js';
import { parseSource } from './source.js';

export const sourceKind = documentKind({ kind: 'Source', resource: 'sources', validate: parseSource });
/** Declared datamart tables (resource-store.ts reads the same hash); their rows are data, not definitions. */
const declaredResources = documentKind({ kind: 'Resource', resource: 'resources', validate: parseResource });
export const resourceKind: DefinitionKind = {
  ...declaredResources,
  show: async (ctx, id) => (await declaredResources.show(ctx, id)) ?? (id === catalogResource.id ? catalogResource : undefined),
  showAll: async (ctx) => {
    const declared = (await declaredResources.showAll(ctx)) as Array<{ id?: unknown }>;
    return declared.some((r) => r.id === catalogResource.id) ? declared : [catalogResource, ...declared];
  },
};

/**
 * Every kind, in the order a bundle is planned and shown. Events come before templates: an
 * event published by the bundle plans its template's skeleton only when the bundle does not
 * bring the template, and the template's own writes come after it in the same commit.
 */
export const definitionKinds: readonly DefinitionKind[] = [sourceKind, triggerKind, resourceKind, testProfileKind, eventKind, templateKind];

export function kindByName(kind: string): DefinitionKind | undefined {
  return definitionKinds.find((k) => k.kind === kind);
}

export function kindByResource(resource: string): DefinitionKind | undefined {
  return definitionKinds.find((k) => k.resource === resource);
}

/** The problems of one document (validation only, no stored state), each with its path. */
export function validationIssues(kind: DefinitionKind, document: unknown, origin: string): DefinitionIssue[] {
  try {
    kind.validate(document, origin);
    return [];
  } catch (err) {
    return issuesOf(err);
  }
}

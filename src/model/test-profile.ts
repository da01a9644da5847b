// Test profiles (SPEC §6.6, Adobe §3.7): a name, an address for proofs, profile fields and the
// event data (`ctx`) used to preview a template. `parseTestProfile` validates a `kind: TestProfile`
// document (every problem with its path in one TEST_PROFILE_INVALID error); the store keeps them in
// the `test-profiles` hash (event-store.ts describes the record); `previewContext` builds the
// template context a preview, a proof and the SMS length check render with.
import { z } from 'zod';
import { ReboundError } from '../core/errors.js';
import type { RedisPort } from '../core/redis/client.js';
import type { Keys } from '../core/redis/keys.js';
import type { Outcome } from './definition-kind.js';
import { unsafeKeyPaths } from './event.js';
import { campaignKeys, readDefinitionRecord, recordValue, transact, type DefinitionRecord, type Plan } from './event-store.js';

export interface TestProfileDefinition {
  kind: 'TestProfile';
  id: string;
  name: string;
  /** Where proofs go: an email address, or a phone number normalised to `+` and digits. */
  address: string;
  addressKind: 'email' | 'phone';
  /** Profile fields (`firstName`, `locale`, any custom field). */
  profile: Readonly<Record<string, unknown>>;
  /** The event data: what `ctx` holds in a template (`products`, `dims`, …). */
  event: Readonly<Record<string, unknown>>;
}

export const testProfileLimits = { documentBytes: 65_536, products: 100 } as const;

const slug = /^[a-z0-9][a-z0-9-]{0,63}$/;
const emailPattern = /^[^\s@<>()[\],;:"]+@[^\s@<>()[\],;:"]+\.[^\s@<>()[\],;:"]+$/;
const phonePattern = /^\+?[0-9][0-9 ().-]{5,30}$/;

const product = z.object({ sku: z.string().min(1).max(256) }).passthrough();

export const testProfileSchema = z
  .object({
    kind: z.literal('TestProfile'),
    id: z.string().regex(slug, 'a slug: lower-case letters, digits and -, at most 64, not starting with -'),
    name: z.string().min(1).max(200),
    address: z.string().max(320),
    profile: z.record(z.string(), z.unknown()).default({}),
    event: z
      .object({
        products: z.array(product).max(testProfileLimits.products).optional(),
        dims: z.record(z.string(), z.unknown()).optional(),
      })
      .passthrough()
      .default({}),
  })
  .strict()
  .superRefine((tp, ctx) => {
    if (!emailPattern.test(tp.address.trim()) && !phonePattern.test(tp.address.trim())) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, message: 'an email address (proof@example.com) or a phone number (+33612345678)', path: ['address'] });
    }
  });

export type TestProfileDocument = z.input<typeof testProfileSchema>;

function freezeDeep<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    for (const child of Object.values(value)) freezeDeep(child);
    Object.freeze(value);
  }
  return value;
}

function toDefinition(parsed: z.output<typeof testProfileSchema>): TestProfileDefinition {
  const address = parsed.address.trim();
  const isEmail = emailPattern.test(address);
  return freezeDeep({
    kind: 'TestProfile',
    id: parsed.id,
    name: parsed.name,
    address: isEmail ? address : `+${address.replace(/\D/g, '')}`,
    addressKind: isEmail ? 'email' : 'phone',
    profile: structuredClone(parsed.profile),
    event: structuredClone(parsed.event),
  });
}

function documentBytes(document: unknown): number {
  try {
    return Buffer.byteLength(JSON.stringify(document) ?? '');
  } catch {
    return Number.POSITIVE_INFINITY;
  }
}

export function parseTestProfile(document: unknown, origin = 'test profile'): TestProfileDefinition {
  const problems = unsafeKeyPaths(document).map((path) => `  ${path}: prototype keys are refused`);
  if (documentBytes(document) > testProfileLimits.documentBytes) problems.push(`  (top level): a test profile is at most ${testProfileLimits.documentBytes / 1024} KB of JSON`);
  const result = testProfileSchema.safeParse(document);
  if (!result.success) problems.push(...result.error.issues.map((i) => `  ${i.path.join('.') || '(top level)'}: ${i.message}`));
  if (problems.length === 0 && result.success) return toDefinition(result.data);
  const first = problems[0]?.trim().split(':')[0] ?? '';
  throw new ReboundError('TEST_PROFILE_INVALID', `invalid ${origin}:\n${problems.join('\n')}`, { path: `${origin}: ${first}` });
}

/**
 * The template context of a test profile: `ctx` is its event data over empty defaults, `profile`
 * its fields (with its address as email or phone unless given), `event` the event previewed.
 */
export function previewContext(testProfile: TestProfileDefinition | undefined, event: { id: string; trigger: string } = { id: 'EVTpreview', trigger: 'preview' }, now: number = Date.now()) {
  const data = structuredClone(testProfile?.event ?? {});
  const profile: Record<string, unknown> = structuredClone(testProfile?.profile ?? {});
  if (testProfile !== undefined && !Object.hasOwn(profile, testProfile.addressKind)) profile[testProfile.addressKind] = testProfile.address;
  return {
    ctx: { dims: {}, summary: {}, products: [], visitorId: `test:${testProfile?.id ?? 'none'}`, firedAt: now, triggerName: event.trigger, aliases: {}, ...data },
    profile,
    event: { id: event.id, trigger: event.trigger },
    links: {},
  };
}

// ---------------------------------------------------------------------------------------------
// Store

export interface StoredTestProfile extends TestProfileDefinition {
  version: number;
  createdAt: number;
  updatedAt: number;
}

function toStored(definition: TestProfileDefinition, record: DefinitionRecord): StoredTestProfile {
  return { ...definition, version: record.version, createdAt: record.createdAt, updatedAt: record.updatedAt };
}

function readStored(id: string, json: string): StoredTestProfile | string {
  const record = readDefinitionRecord(json);
  if (record === undefined) return `stored test profile ${id}: not a record`;
  try {
    return toStored(parseTestProfile(record.document, `stored test profile ${id}`), record);
  } catch (err) {
    return (err as Error).message;
  }
}

/** Plans storing a test profile (an upsert); an unchanged document plans no write. */
export async function planTestProfilePut(redis: RedisPort, keys: Keys, document: unknown, now: number): Promise<Plan<{ outcome: Outcome; testProfile: StoredTestProfile }>> {
  const definition = parseTestProfile(document, `test profile ${String((document as { id?: unknown } | null)?.id)}`);
  const key = campaignKeys(keys).testProfiles;
  const json = await redis.hget(key, definition.id);
  const previous = json === null ? undefined : readDefinitionRecord(json);
  const before = json === null ? undefined : readStored(definition.id, json);
  if (typeof before === 'object' && JSON.stringify(toDefinitionOnly(before)) === JSON.stringify(definition)) return { writes: [], result: { outcome: 'unchanged', testProfile: before } };
  const value = recordValue(document as Record<string, unknown>, previous, now);
  return {
    writes: [{ op: 'hset', key, field: definition.id, value }],
    result: { outcome: previous === undefined ? 'created' : 'changed', testProfile: toStored(definition, readDefinitionRecord(value) as DefinitionRecord) },
  };
}

function toDefinitionOnly(stored: StoredTestProfile): TestProfileDefinition {
  const { version: _v, createdAt: _c, updatedAt: _u, ...definition } = stored;
  return definition;
}

export function putTestProfile(redis: RedisPort, keys: Keys, document: unknown, now: number = Date.now()): Promise<{ outcome: Outcome; testProfile: StoredTestProfile }> {
  return transact(redis, keys, () => planTestProfilePut(redis, keys, document, now));
}

export async function getTestProfile(redis: RedisPort, keys: Keys, id: string): Promise<StoredTestProfile | undefined> {
  const json = await redis.hget(campaignKeys(keys).testProfiles, id);
  if (json === null) return undefined;
  const stored = readStored(id, json);
  if (typeof stored === 'string') throw new ReboundError('TEST_PROFILE_INVALID', stored, { path: `test profile ${id}` });
  return stored;
}

/** Every stored test profile; one that no longer validates is reported, not returned. */
export async function loadTestProfiles(redis: RedisPort, keys: Keys): Promise<{ testProfiles: StoredTestProfile[]; invalid: Array<{ id: string; error: string }> }> {
  const testProfiles: StoredTestProfile[] = [];
  const invalid: Array<{ id: string; error: string }> = [];
  for (const [id, json] of Object.entries(await redis.hgetall(campaignKeys(keys).testProfiles))) {
    const stored = readStored(id, json);
    if (typeof stored === 'string') invalid.push({ id, error: stored });
    else testProfiles.push(stored);
  }
  testProfiles.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  return { testProfiles, invalid };
}

/** Resolves true when the test profile existed. */
export function deleteTestProfile(redis: RedisPort, keys: Keys, id: string): Promise<boolean> {
  const key = campaignKeys(keys).testProfiles;
  return transact(redis, keys, async () => {
    const existed = (await redis.hget(key, id)) !== null;
    return { writes: existed ? [{ op: 'hdel', key, field: id }] : [], result: existed };
  });
}

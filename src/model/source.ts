// A source (SPEC §4): a report suite with its write keys and visit rules. `parseSource` validates
// a `kind: Source` document and reports every problem with its path in one SOURCE_INVALID error.
import { z } from 'zod';
import { duration } from '../core/config-schema.js';
import { ReboundError } from '../core/errors.js';

const sourceId = z.string().regex(/^[A-Za-z0-9_.-]{1,100}$/, 'letters, digits, _ . - (at most 100): it is the report suite id');

export const sourceSchema = z
  .object({
    kind: z.literal('Source'),
    id: sourceId,
    name: z.string().max(200).optional(),
    writeKeys: z.array(z.string().min(8, 'at least 8 characters').max(200)).min(1).max(20),
    visit: z
      .object({
        inactivity: duration('30m'),
        maxDuration: duration('12h'),
        maxHits: z.number().int().min(1).default(2500),
        botRule: z
          .object({ hits: z.number().int().min(1).default(100), within: duration('100s') })
          .strict()
          .default({}),
      })
      .strict()
      .default({}),
  })
  .strict();

/** A validated source; durations in milliseconds. */
export type Source = z.output<typeof sourceSchema>;
/** A source as written in YAML or JSON (durations as strings). */
export type SourceDocument = z.input<typeof sourceSchema>;

export function parseSource(raw: unknown, origin = 'source'): Source {
  const result = sourceSchema.safeParse(raw);
  if (result.success) return result.data;
  const lines = result.error.issues.map((issue) => `  ${issue.path.join('.') || '(top level)'}: ${issue.message}`);
  const first = result.error.issues[0]?.path.join('.') ?? '';
  throw new ReboundError('SOURCE_INVALID', `invalid ${origin}:\n${lines.join('\n')}`, { path: first === '' ? origin : `${origin}: ${first}` });
}

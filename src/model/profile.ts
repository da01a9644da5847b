// A customer profile (SPEC §6.2): the standard fields Rebound reads (addresses, names, locale,
// timezone, opt-outs) and any custom fields templates may use. `parseProfile` validates and
// normalises one profile, reporting every problem with its path in one PROFILE_INVALID error.
import {
  datamartLimits,
  invalidDocument,
  isPlainObject,
  jsonProblems,
  normalizeEmail,
  normalizePhone,
  sizeProblem,
  type Problem,
} from './profile-values.js';

export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

export interface Profile {
  id: string;
  /** Trimmed, lower-case. */
  email?: string;
  /** `+` and digits. */
  phone?: string;
  firstName?: string;
  lastName?: string;
  /** A canonical BCP 47 language tag (`fr-FR`). */
  locale?: string;
  /** A canonical IANA time zone (`Europe/Paris`). */
  timezone?: string;
  emailOptOut?: boolean;
  smsOptOut?: boolean;
  denylisted?: boolean;
  [custom: string]: JsonValue | undefined;
}

type FieldCheck = (value: unknown) => { value: JsonValue } | { problem: string };

const text = (max: number): FieldCheck => (value) =>
  typeof value !== 'string' ? { problem: 'expected a string' } : value.length > max ? { problem: `at most ${max} characters` } : { value };

const boolean: FieldCheck = (value) => (typeof value === 'boolean' ? { value } : { problem: 'expected true or false' });

const normalised = (normalise: (raw: string) => string | undefined, expected: string): FieldCheck => (value) => {
  if (typeof value !== 'string') return { problem: 'expected a string' };
  const result = normalise(value);
  return result === undefined ? { problem: expected } : { value: result };
};

function canonicalLocale(raw: string): string | undefined {
  if (raw.length > 35) return undefined;
  try {
    return Intl.getCanonicalLocales(raw.trim().replace(/_/g, '-'))[0];
  } catch {
    return undefined;
  }
}

function canonicalTimezone(raw: string): string | undefined {
  if (raw.length > 64 || raw.trim() === '') return undefined;
  try {
    return new Intl.DateTimeFormat('en', { timeZone: raw.trim() }).resolvedOptions().timeZone;
  } catch {
    return undefined;
  }
}

/** The standard fields and how each is checked; `null` leaves a standard field unset. */
const standardFields: Record<string, FieldCheck> = {
  email: normalised(normalizeEmail, 'not an email address'),
  phone: normalised(normalizePhone, 'not a phone number: a leading + and 4 to 15 digits (spaces, dots, dashes, parentheses allowed)'),
  firstName: text(1024),
  lastName: text(1024),
  locale: normalised(canonicalLocale, 'not a language tag such as fr or en-US'),
  timezone: normalised(canonicalTimezone, 'not an IANA time zone such as Europe/Paris'),
  emailOptOut: boolean,
  smsOptOut: boolean,
  denylisted: boolean,
};

function idProblem(id: unknown): string | undefined {
  if (id === undefined) return 'required';
  if (typeof id !== 'string' || id === '') return 'expected a non-empty string';
  return id.length > datamartLimits.keyChars ? `at most ${datamartLimits.keyChars} characters` : undefined;
}

function checkField(key: string, value: unknown, out: Record<string, unknown>, problems: Problem[]): void {
  const check = standardFields[key];
  if (check !== undefined) {
    if (value === null) return;
    const result = check(value);
    if ('problem' in result) problems.push({ path: key, message: result.problem });
    else out[key] = result.value;
    return;
  }
  if (key === '' || key.length > datamartLimits.fieldChars) return void problems.push({ path: key, message: `a field name has 1 to ${datamartLimits.fieldChars} characters` });
  const before = problems.length;
  jsonProblems(value, key, problems, 1);
  if (problems.length === before) out[key] = value;
}

/** Validates and normalises a profile; throws PROFILE_INVALID listing every problem. */
export function parseProfile(raw: unknown, origin = 'profile'): Profile {
  if (!isPlainObject(raw)) throw invalidDocument('PROFILE_INVALID', origin, [{ path: '(top level)', message: 'a profile is a JSON object' }]);
  const problems: Problem[] = [];
  const out: Record<string, unknown> = {};
  const idIssue = idProblem(raw.id);
  if (idIssue !== undefined) problems.push({ path: 'id', message: idIssue });
  else out.id = raw.id;
  for (const [key, value] of Object.entries(raw)) {
    if (key === 'id') continue;
    if (key === '__proto__' || key === 'constructor' || key === 'prototype') problems.push({ path: key, message: 'prototype keys are refused' });
    else checkField(key, value, out, problems);
  }
  const tooBig = problems.length === 0 ? sizeProblem(out, 'the profile') : undefined;
  if (tooBig) problems.push(tooBig);
  if (problems.length > 0) throw invalidDocument('PROFILE_INVALID', origin, problems);
  return out as Profile;
}

/**
 * The form of a profile field's value in the indexes: the normalised address or number for
 * email and phone, the trimmed text of a string or the digits of a number otherwise; undefined
 * when the value cannot be indexed (absent, empty, an object, too long).
 */
export function indexValue(field: string, value: unknown): string | undefined {
  let result: string | undefined;
  if (field === 'email') result = typeof value === 'string' ? normalizeEmail(value) : undefined;
  else if (field === 'phone') result = typeof value === 'string' ? normalizePhone(value) : undefined;
  else if (typeof value === 'string') result = value.trim();
  else if (typeof value === 'number' && Number.isFinite(value)) result = String(value);
  return result === undefined || result === '' || result.length > datamartLimits.keyChars ? undefined : result;
}

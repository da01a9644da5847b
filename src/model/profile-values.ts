// Values shared by the datamart's documents (profiles, resource rows, suppressions): how an email
// address and a phone number are normalised (one form for storage, indexes and the suppression
// list), the sha256 form of indexed values, and the checks every free-form JSON document passes.
import { createHash } from 'node:crypto';
import { ReboundError, type ErrorCode } from '../core/errors.js';

export const datamartLimits = {
  /** A stored profile or resource row, as JSON (UTF-8 bytes). */
  documentBytes: 65_536,
  /** Nesting of objects and arrays inside a document. */
  depth: 16,
  /** A profile id, a resource row key, an indexed value. */
  keyChars: 256,
  /** A field name. */
  fieldChars: 256,
} as const;

const prototypeKeys = new Set(['__proto__', 'constructor', 'prototype']);
const emailPattern = /^[^\s@"<>(),;:\\[\]]+@[^\s@"<>(),;:\\[\].]+(\.[^\s@"<>(),;:\\[\].]+)+$/;

/** Trimmed and lower-cased; undefined when it does not look like an address. */
export function normalizeEmail(raw: string): string | undefined {
  const email = raw.trim().toLowerCase();
  return email.length <= 254 && emailPattern.test(email) ? email : undefined;
}

/** A leading `+` and digits (spaces, dots, dashes and parentheses dropped); undefined otherwise. */
export function normalizePhone(raw: string): string | undefined {
  const phone = raw.trim().replace(/[\s().-]/g, '');
  return /^\+?\d{4,15}$/.test(phone) ? phone : undefined;
}

/** An address or a phone number in its stored form (the suppression list holds both). */
export function normalizeContact(raw: string): string | undefined {
  return raw.includes('@') ? normalizeEmail(raw) : normalizePhone(raw);
}

export function sha256Hex(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

/** A sha256 given by a site, trimmed and lower-cased; undefined when it is not 64 hex digits. */
export function normalizeHash(raw: string): string | undefined {
  const hex = raw.trim().toLowerCase();
  return /^[0-9a-f]{64}$/.test(hex) ? hex : undefined;
}

export interface Problem {
  path: string;
  message: string;
}

export const joinPath = (parent: string, key: string | number): string => (parent === '' ? String(key) : `${parent}.${key}`);

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Problems of a free-form JSON value: prototype keys (refused, never merged), nesting deeper than
 * the limit, and what JSON cannot carry (undefined, functions, NaN, Infinity) when it did not come
 * from JSON.parse.
 */
export function jsonProblems(value: unknown, path: string, problems: Problem[], depth = 0): void {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return;
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) problems.push({ path, message: 'numbers must be finite' });
    return;
  }
  if (typeof value !== 'object') return void problems.push({ path, message: `${typeof value} is not a JSON value` });
  if (depth >= datamartLimits.depth) return void problems.push({ path, message: `nested deeper than ${datamartLimits.depth} levels` });
  const entries: Array<[string | number, unknown]> = Array.isArray(value) ? value.map((v, i) => [i, v]) : Object.entries(value);
  for (const [key, child] of entries) {
    if (typeof key === 'string' && prototypeKeys.has(key)) problems.push({ path: joinPath(path, key), message: 'prototype keys are refused' });
    else jsonProblems(child, joinPath(path, key), problems, depth + 1);
  }
}

export function isPrototypeKey(key: string): boolean {
  return prototypeKeys.has(key);
}

/** A document over the size limit, as a problem; undefined when it fits. */
export function sizeProblem(document: unknown, what: string): Problem | undefined {
  const bytes = Buffer.byteLength(JSON.stringify(document), 'utf8');
  return bytes > datamartLimits.documentBytes ? { path: '(top level)', message: `${what} is ${bytes} bytes as JSON; at most ${datamartLimits.documentBytes}` } : undefined;
}

/** One error listing every problem ("  path: message" lines); `path` names the first. */
export function invalidDocument(code: ErrorCode, origin: string, problems: readonly Problem[]): ReboundError {
  const lines = problems.map((p) => `  ${p.path || '(top level)'}: ${p.message}`);
  return new ReboundError(code, `invalid ${origin}:\n${lines.join('\n')}`, { path: problems[0]?.path || '(top level)' });
}

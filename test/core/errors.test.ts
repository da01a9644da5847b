// The error catalog and docs/errors.md list the same codes with the same status and retriable
// flag; ReboundError's JSON form and asReboundError's wrapping are what every interface relies on.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ReboundError, asReboundError, errorCatalog, isReboundError, type ErrorCode } from '../../src/core/errors.js';

interface DocumentedError {
  code: string;
  status: number;
  retriable: boolean;
  meaning: string;
}

/** The rows of the `| code | HTTP status | retriable | meaning |` table of docs/errors.md. */
function documentedErrors(): DocumentedError[] {
  const lines = readFileSync(resolve(import.meta.dirname, '../../docs/errors.md'), 'utf8').split('\n');
  const header = lines.findIndex((line) => /^\|\s*code\s*\|\s*HTTP status\s*\|\s*retriable\s*\|\s*meaning\s*\|\s*$/.test(line));
  expect(header, 'docs/errors.md has the error table').toBeGreaterThanOrEqual(0);
  expect(lines[header + 1]).toMatch(/^\|(\s*:?-+:?\s*\|){4}\s*$/);
  const rows: DocumentedError[] = [];
  for (const line of lines.slice(header + 2)) {
    if (!line.startsWith('|')) break;
    const cells = line.split('|').slice(1, -1).map((cell) => cell.trim());
    expect(cells, line).toHaveLength(4);
    const [code = '', status = '', retriable = '', meaning = ''] = cells;
    expect(code, 'code in backticks').toMatch(/^`[A-Z][A-Z0-9_]*`$/);
    expect(status).toMatch(/^\d{3}$/);
    expect(retriable).toMatch(/^(yes|no)$/);
    rows.push({ code: code.slice(1, -1), status: Number(status), retriable: retriable === 'yes', meaning });
  }
  return rows;
}

describe('docs/errors.md', () => {
  const rows = documentedErrors();

  it('lists exactly the codes of the catalog, once each', () => {
    const codes = rows.map((row) => row.code);
    expect(new Set(codes).size).toBe(codes.length);
    expect([...codes].sort()).toEqual(Object.keys(errorCatalog).sort());
  });

  it('gives each code the status and retriable flag of the catalog', () => {
    for (const row of rows) {
      const entry = errorCatalog[row.code as ErrorCode];
      expect({ code: row.code, status: row.status, retriable: row.retriable }).toEqual({
        code: row.code,
        status: entry.status,
        retriable: entry.retriable,
      });
    }
  });

  it('explains every code', () => {
    for (const row of rows) expect(row.meaning.length, row.code).toBeGreaterThan(40);
  });
});

describe('ReboundError', () => {
  it('takes status and retriable from the catalog', () => {
    const error = new ReboundError('REDIS_UNAVAILABLE', 'Redis: connection refused');
    expect(error).toBeInstanceOf(Error);
    expect(error.name).toBe('ReboundError');
    expect(error.code).toBe('REDIS_UNAVAILABLE');
    expect(error.status).toBe(503);
    expect(error.retriable).toBe(true);
    expect(error.message).toBe('Redis: connection refused');
    expect(error.index).toBeUndefined();
    expect(error.path).toBeUndefined();
    expect(error.cause).toBeUndefined();
  });

  it('keeps index, path, cause and a status override', () => {
    const cause = new Error('root');
    const error = new ReboundError('CODEC_DECODE_FAILED', 'bad frame', { cause, index: 4, path: 'hits.ndjson:12', status: 415 });
    expect(error.status).toBe(415);
    expect(error.retriable).toBe(false);
    expect(error.index).toBe(4);
    expect(error.path).toBe('hits.ndjson:12');
    expect(error.cause).toBe(cause);
  });

  it('serialises to {error: {code, message}} without absent fields', () => {
    const json = new ReboundError('CONFIG_INVALID', 'invalid configuration').toJSON();
    expect(json).toStrictEqual({ error: { code: 'CONFIG_INVALID', message: 'invalid configuration' } });
    expect(JSON.parse(JSON.stringify(new ReboundError('CONFIG_INVALID', 'x')))).toStrictEqual({ error: { code: 'CONFIG_INVALID', message: 'x' } });
  });

  it('serialises index and path when present, never the cause or stack', () => {
    const error = new ReboundError('CODEC_DECODE_FAILED', 'bad hit', { index: 0, path: 'ingest.port', cause: new Error('secret detail') });
    const text = JSON.stringify(error);
    expect(JSON.parse(text)).toStrictEqual({ error: { code: 'CODEC_DECODE_FAILED', message: 'bad hit', index: 0, path: 'ingest.port' } });
    expect(text).not.toContain('secret detail');
    expect(text).not.toContain('stack');
  });

  it('is recognised by isReboundError, optionally by code', () => {
    const error = new ReboundError('SHUTDOWN_TIMEOUT', 'too slow');
    expect(isReboundError(error)).toBe(true);
    expect(isReboundError(error, 'SHUTDOWN_TIMEOUT')).toBe(true);
    expect(isReboundError(error, 'CONFIG_INVALID')).toBe(false);
    expect(isReboundError(new Error('plain'))).toBe(false);
    expect(isReboundError({ code: 'SHUTDOWN_TIMEOUT' })).toBe(false);
  });
});

describe('asReboundError', () => {
  it('returns a ReboundError unchanged', () => {
    const error = new ReboundError('REDIS_UNAVAILABLE', 'down');
    expect(asReboundError(error)).toBe(error);
    expect(asReboundError(error, 'CODEC_DECODE_FAILED')).toBe(error);
  });

  it('wraps an Error as STAGE_ITEM_FAILED by default, keeping message and cause', () => {
    const cause = new TypeError('cannot read properties of undefined');
    const error = asReboundError(cause);
    expect(error).toBeInstanceOf(ReboundError);
    expect(error.code).toBe('STAGE_ITEM_FAILED');
    expect(error.retriable).toBe(true);
    expect(error.status).toBe(500);
    expect(error.message).toBe('cannot read properties of undefined');
    expect(error.cause).toBe(cause);
  });

  it('wraps with the code it is given', () => {
    const error = asReboundError(new Error('truncated'), 'CODEC_DECODE_FAILED');
    expect(error.code).toBe('CODEC_DECODE_FAILED');
    expect(error.retriable).toBe(false);
  });

  it('wraps values that are not errors', () => {
    expect(asReboundError('plain text').message).toBe('plain text');
    expect(asReboundError(42).message).toBe('42');
    expect(asReboundError(undefined).cause).toBeUndefined();
    expect(asReboundError(null).message).toBe('null');
  });
});

// Bulk import of an NDJSON file (SPEC §1 `rebound import`): the file is streamed, never held in
// memory; lines are validated one by one and written in chunks (≤ 1,000 rows, ≤ 4 MiB) through
// the target's batch write. A bad line never stops the import: it is written to the rejects file
// with its line number and error. A line over the limit is skipped as it streams by (only its
// first 1,024 characters are kept for the rejects file), so a hostile file cannot exhaust memory.
import { createReadStream, createWriteStream, type WriteStream } from 'node:fs';
import { stat, unlink } from 'node:fs/promises';
import { once } from 'node:events';
import { ReboundError, asReboundError } from '../core/errors.js';
import { isPlainObject } from './profile-values.js';

export interface ImportTarget<T> {
  /** Validates one line's JSON object; throws a ReboundError saying why it is refused. */
  parse(raw: Record<string, unknown>): T;
  /** Writes one chunk of valid rows, in file order. */
  write(rows: T[]): Promise<void>;
}

export interface ImportProgress {
  bytesRead: number;
  totalBytes: number;
  lines: number;
  accepted: number;
  rejected: number;
}

export interface ImportOptions {
  chunkRows?: number;
  chunkBytes?: number;
  maxLineBytes?: number;
  /** Default `<file>.rejects`. */
  rejectsFile?: string;
  onProgress?: (progress: ImportProgress) => void;
}

export interface ImportSummary extends ImportProgress {
  /** Where rejected lines were written; undefined when none was. */
  rejectsFile: string | undefined;
}

export const importLimits = { chunkRows: 1000, chunkBytes: 4 * 1024 * 1024, maxLineBytes: 1024 * 1024, rejectInputChars: 1024 } as const;

interface Line {
  number: number;
  bytes: Buffer;
  /** Set when the line was longer than the limit: its total length in bytes. */
  tooLong?: number;
}

/** Checks the file before anything connects: IMPORT_FILE_UNREADABLE when missing or not a file. */
export async function importFileSize(file: string): Promise<number> {
  try {
    const info = await stat(file);
    if (!info.isFile()) throw new Error('not a regular file');
    return info.size;
  } catch (err) {
    throw new ReboundError('IMPORT_FILE_UNREADABLE', `cannot read ${file}: ${(err as Error).message}`, { cause: err, path: file });
  }
}

/** Splits a byte stream into lines, dropping the bytes of a line beyond `max` as they arrive. */
class LineSplitter {
  #parts: Buffer[] = [];
  #length = 0;
  #number = 0;
  readonly #max: number;

  constructor(max: number) {
    this.#max = max;
  }

  *push(chunk: Buffer): Generator<Line> {
    let start = 0;
    for (let nl = chunk.indexOf(10, start); nl !== -1; nl = chunk.indexOf(10, start)) {
      this.#append(chunk.subarray(start, nl));
      yield this.#take();
      start = nl + 1;
    }
    this.#append(chunk.subarray(start));
  }

  *end(): Generator<Line> {
    if (this.#length > 0) yield this.#take();
  }

  #append(bytes: Buffer): void {
    const room = Math.max(0, this.#max + 1 - this.#length);
    if (room > 0) this.#parts.push(Buffer.from(bytes.subarray(0, room)));
    this.#length += bytes.length;
  }

  #take(): Line {
    const line: Line = { number: ++this.#number, bytes: Buffer.concat(this.#parts) };
    if (this.#length > this.#max) line.tooLong = this.#length;
    this.#parts = [];
    this.#length = 0;
    return line;
  }
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** The JSON object of a line, null for a blank line; throws IMPORT_LINE_* for a malformed one. */
function decodeLine(line: Line, maxLineBytes: number): Record<string, unknown> | null {
  if (line.tooLong !== undefined) throw new ReboundError('IMPORT_LINE_TOO_LONG', `line is ${line.tooLong} bytes; at most ${maxLineBytes}`);
  let text: string;
  try {
    text = utf8.decode(line.bytes);
  } catch {
    throw new ReboundError('IMPORT_LINE_MALFORMED', 'not valid UTF-8');
  }
  if (line.number === 1 && text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  if (text.trim() === '') return null;
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new ReboundError('IMPORT_LINE_MALFORMED', `not JSON: ${(err as Error).message}`);
  }
  if (!isPlainObject(raw)) throw new ReboundError('IMPORT_LINE_MALFORMED', 'a line holds one JSON object');
  return raw;
}

/** The rejects file, created (replacing an old one) at the first rejected line. */
class Rejects {
  readonly file: string;
  #stream: WriteStream | undefined;
  #error: Error | undefined;
  count = 0;

  constructor(file: string) {
    this.file = file;
  }

  async write(line: Line, err: unknown): Promise<void> {
    if (this.#error) throw new Error(`cannot write ${this.file}: ${this.#error.message}`);
    const error = asReboundError(err, 'IMPORT_LINE_MALFORMED');
    const text = line.bytes.toString('utf8').replace(/\r$/, '');
    const input = line.tooLong === undefined ? text : text.slice(0, importLimits.rejectInputChars);
    const record = { line: line.number, error: { code: error.code, message: error.message, ...(error.path ? { path: error.path } : {}) }, input, ...(line.tooLong ? { truncated: true } : {}) };
    if (this.#stream === undefined) {
      this.#stream = createWriteStream(this.file, { flags: 'w' });
      this.#stream.on('error', (error) => (this.#error = error));
    }
    this.count++;
    if (!this.#stream.write(`${JSON.stringify(record)}\n`)) await once(this.#stream, 'drain');
  }

  async close(): Promise<void> {
    if (this.#stream === undefined) return void (await unlink(this.file).catch(() => undefined));
    if (!this.#stream.destroyed) {
      this.#stream.end();
      await once(this.#stream, 'close');
    }
    if (this.#error) throw new Error(`cannot write ${this.file}: ${this.#error.message}`);
  }
}

/** Imports every line of `file` into `target`; resolves with the counts once all chunks are written. */
export async function importNdjson<T>(file: string, target: ImportTarget<T>, options: ImportOptions = {}): Promise<ImportSummary> {
  const chunkRows = options.chunkRows ?? importLimits.chunkRows;
  const chunkBytes = options.chunkBytes ?? importLimits.chunkBytes;
  const maxLineBytes = options.maxLineBytes ?? importLimits.maxLineBytes;
  const progress: ImportProgress = { bytesRead: 0, totalBytes: await importFileSize(file), lines: 0, accepted: 0, rejected: 0 };
  const rejects = new Rejects(options.rejectsFile ?? `${file}.rejects`);
  let chunk: T[] = [];
  let bytes = 0;
  const flush = async (): Promise<void> => {
    if (chunk.length > 0) await target.write(chunk);
    progress.accepted += chunk.length;
    chunk = [];
    bytes = 0;
  };
  const handle = async (line: Line): Promise<void> => {
    try {
      const raw = decodeLine(line, maxLineBytes);
      if (raw === null) return;
      progress.lines++;
      chunk.push(target.parse(raw));
      bytes += line.bytes.length;
    } catch (err) {
      progress.lines++;
      progress.rejected++;
      await rejects.write(line, err);
    }
    if (chunk.length >= chunkRows || bytes >= chunkBytes) await flush();
  };
  const splitter = new LineSplitter(maxLineBytes);
  try {
    for await (const data of createReadStream(file, { highWaterMark: 64 * 1024 })) {
      progress.bytesRead += (data as Buffer).length;
      for (const line of splitter.push(data as Buffer)) await handle(line);
      options.onProgress?.({ ...progress });
    }
    for (const line of splitter.end()) await handle(line);
    await flush();
  } finally {
    await rejects.close();
  }
  options.onProgress?.({ ...progress });
  return { ...progress, rejectsFile: rejects.count > 0 ? rejects.file : undefined };
}

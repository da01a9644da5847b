// The admin API's bearer token (SPEC §1): `admin.token` / REBOUND_ADMIN_TOKEN, else the token
// stored in `<dataDir>/admin-token` (mode 0600), generated on first start. Requests are checked
// in constant time: both sides are hashed to equal-length digests before timingSafeEqual, so
// neither the token's content nor its length leaks through timing.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ReboundError } from '../core/errors.js';

export const tokenFileName = 'admin-token';

export function tokenFile(dataDir: string): string {
  return join(dataDir, tokenFileName);
}

/** The stored token of a data directory, or undefined when there is none. */
export function readTokenFile(dataDir: string): string | undefined {
  try {
    const token = readFileSync(tokenFile(dataDir), 'utf8').trim();
    return token === '' ? undefined : token;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new ReboundError('CONFIG_FILE_UNREADABLE', `cannot read the admin token file ${tokenFile(dataDir)}: ${(err as Error).message}`, { cause: err });
  }
}

export interface AdminToken {
  token: string;
  /** Where it came from: `config` (admin.token or REBOUND_ADMIN_TOKEN) or the token file's path. */
  origin: string;
  generated: boolean;
}

/** The configured token, else the stored one, else a new one written to the token file (0600). */
export function resolveAdminToken(configured: string | null, dataDir: string): AdminToken {
  if (configured !== null) return { token: configured, origin: 'config', generated: false };
  const file = tokenFile(dataDir);
  const stored = readTokenFile(dataDir);
  if (stored !== undefined) {
    if (stored.length < 16) throw new ReboundError('CONFIG_INVALID', `the admin token in ${file} is shorter than 16 characters; delete the file to get a new one`, { path: file });
    chmodSync(file, 0o600);
    return { token: stored, origin: file, generated: false };
  }
  const token = randomBytes(32).toString('base64url');
  try {
    mkdirSync(dataDir, { recursive: true });
    // 'wx': two processes starting at once never overwrite each other's token; the loser reads it.
    writeFileSync(file, `${token}\n`, { mode: 0o600, flag: 'wx' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return resolveAdminToken(null, dataDir);
    throw new ReboundError('CONFIG_FILE_UNREADABLE', `cannot write the admin token file ${file}: ${(err as Error).message}`, { cause: err });
  }
  return { token, origin: file, generated: true };
}

const digest = (text: string): Buffer => createHash('sha256').update(text, 'utf8').digest();

/** Checks an Authorization header against the token; throws ADMIN_UNAUTHORIZED when it does not match. */
export function checkBearer(header: string | undefined, expected: Buffer): void {
  const match = header === undefined ? null : /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header);
  if (match === null) throw new ReboundError('ADMIN_UNAUTHORIZED', 'missing bearer token: send Authorization: Bearer <admin token>');
  if (!timingSafeEqual(digest(match[1] as string), expected)) throw new ReboundError('ADMIN_UNAUTHORIZED', 'wrong admin token');
}

/** The digest `checkBearer` compares against, computed once. */
export function tokenDigest(token: string): Buffer {
  return digest(token);
}

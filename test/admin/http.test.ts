// The admin API's HTTP contract as a client sees it: bearer token (401 without or with a wrong
// one), 404 for unknown routes, 405 with Allow, 413 over admin.maxBodyBytes, 400 for a body
// that is not JSON; and the generated token file of SPEC §1.
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { resolveAdminToken } from '../../src/admin/auth.js';
import { adminToken, startTestAdmin, type TestAdmin } from './admin-helpers.js';

let admin: TestAdmin;
beforeAll(async () => {
  admin = await startTestAdmin({ url: inject('redisUrl') }, { maxBodyBytes: 2048 });
});
afterAll(() => admin.close());

describe('admin API authentication', () => {
  it('answers 401 without a token', async () => {
    const reply = await admin.call('GET', '/admin/sources', undefined, null);
    expect(reply.status).toBe(401);
    expect(reply.body).toEqual({ error: { code: 'ADMIN_UNAUTHORIZED', message: expect.stringContaining('Authorization: Bearer') } });
  });

  it('answers 401 with a wrong token, whatever its length, and for a non-Bearer scheme', async () => {
    for (const token of ['x', `${adminToken.slice(0, -1)}X`, `${adminToken}0`, 'a'.repeat(500)]) {
      const reply = await admin.call('GET', '/admin/sources', undefined, token);
      expect(reply.status, token).toBe(401);
      expect(reply.body.error.code).toBe('ADMIN_UNAUTHORIZED');
    }
    const basic = await fetch(`${admin.url}/admin/sources`, { headers: { authorization: `Basic ${Buffer.from(`${adminToken}:`).toString('base64')}` } });
    expect(basic.status).toBe(401);
  });

  it('answers 401 before revealing whether a route exists', async () => {
    expect((await admin.call('GET', '/admin/no-such-thing', undefined, null)).status).toBe(401);
  });

  it('serves a request with the right token (scheme case-insensitive)', async () => {
    expect(await admin.call('GET', '/admin/sources')).toMatchObject({ status: 200, body: { items: [] } });
    const lower = await fetch(`${admin.url}/admin/sources`, { headers: { authorization: `bearer ${adminToken}` } });
    expect(lower.status).toBe(200);
  });
});

describe('admin API errors', () => {
  it('answers 404 with a JSON error for an unknown route', async () => {
    const reply = await admin.call('GET', '/admin/no-such-thing');
    expect(reply.status).toBe(404);
    expect(reply.body.error.code).toBe('ADMIN_ROUTE_NOT_FOUND');
    expect((await admin.call('GET', '/elsewhere')).status).toBe(404);
  });

  it('answers 405 with the allowed methods for a known path and another method', async () => {
    const reply = await admin.call('POST', '/admin/triggers/cart', {});
    expect(reply.status).toBe(405);
    expect(reply.body.error.code).toBe('ADMIN_METHOD_NOT_ALLOWED');
    expect(reply.headers.get('allow')?.split(', ').sort()).toEqual(['DELETE', 'GET', 'PUT']);
  });

  it('answers 413 for a body over admin.maxBodyBytes, declared or streamed', async () => {
    const big = { kind: 'Source', id: 'shop-web', writeKeys: ['k'.repeat(3000)] };
    const declared = await admin.call('PUT', '/admin/sources/shop-web', big);
    expect(declared.status).toBe(413);
    expect(declared.body.error.code).toBe('ADMIN_BODY_TOO_LARGE');
    const chunks = new ReadableStream({
      start(controller) {
        for (let i = 0; i < 4; i++) controller.enqueue(new TextEncoder().encode(' '.repeat(1000)));
        controller.close();
      },
    });
    const streamed = await fetch(`${admin.url}/admin/apply`, { method: 'POST', headers: { authorization: `Bearer ${adminToken}` }, body: chunks, duplex: 'half' } as RequestInit);
    expect(streamed.status).toBe(413);
    expect((await admin.call('GET', '/admin/sources/shop-web')).status).toBe(404);
  });

  it('answers 400 for a body that is not JSON, and for an apply body of the wrong shape', async () => {
    const reply = await admin.call('PUT', '/admin/sources/shop-web', '{"kind": "Source",');
    expect(reply.status).toBe(400);
    expect(reply.body.error.code).toBe('ADMIN_BODY_MALFORMED');
    const shape = await admin.call('POST', '/admin/apply', { documents: 'all of them' });
    expect(shape.status).toBe(400);
    expect(shape.body.error.message).toContain('documents');
  });
});

describe('admin token', () => {
  const dirs: string[] = [];
  afterAll(() => dirs.forEach((dir) => rmSync(dir, { recursive: true, force: true })));
  const dataDir = (): string => {
    const dir = join(mkdtempSync(join(tmpdir(), 'rebound-token-')), 'data');
    dirs.push(dir);
    return dir;
  };

  it('is generated once into <dataDir>/admin-token with mode 0600, then reused', () => {
    const dir = dataDir();
    const first = resolveAdminToken(null, dir);
    expect(first.generated).toBe(true);
    expect(first.token.length).toBeGreaterThanOrEqual(32);
    expect(first.origin).toBe(join(dir, 'admin-token'));
    expect(statSync(first.origin).mode & 0o777).toBe(0o600);
    expect(readFileSync(first.origin, 'utf8').trim()).toBe(first.token);
    const again = resolveAdminToken(null, dir);
    expect(again).toEqual({ token: first.token, origin: first.origin, generated: false });
  });

  it('comes from the configuration (admin.token / REBOUND_ADMIN_TOKEN) when set, without a file', () => {
    const dir = dataDir();
    expect(resolveAdminToken('configured-token-0123456789', dir)).toEqual({ token: 'configured-token-0123456789', origin: 'config', generated: false });
    expect(() => statSync(join(dir, 'admin-token'))).toThrow();
  });

  it('refuses a stored token that is too short', () => {
    const dir = dataDir();
    resolveAdminToken(null, dir);
    writeFileSync(join(dir, 'admin-token'), 'short\n');
    expect(() => resolveAdminToken(null, dir)).toThrow(/shorter than 16/);
  });
});

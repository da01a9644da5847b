// Hostile and malformed input: each case gets its status and stable code, nothing is written,
// and the server keeps serving (SPEC §2.4, §10).
import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { badInputs, type BadInput } from '../fixtures/ingest-bad-inputs.js';
import { startTestIngest, waitFor, type TestIngest } from './helpers.js';

let t: TestIngest;
beforeAll(async () => {
  t = await startTestIngest(inject('redisUrl'), { maxBodyBytes: 262_144, requestTimeout: '600ms' });
});
afterAll(() => t.close());

async function send(input: BadInput): Promise<{ status: number; body: unknown }> {
  const headers: Record<string, string> = { ...input.headers };
  if (input.auth !== false) headers.authorization = typeof input.auth === 'string' ? input.auth : t.auth;
  if (input.body !== undefined) headers['content-type'] = input.contentType ?? 'application/json';
  const response = await fetch(t.base + input.path, { method: input.method ?? 'POST', headers, ...(input.body === undefined ? {} : { body: input.body }) });
  const text = await response.text();
  return { status: response.status, body: text === '' ? undefined : JSON.parse(text) };
}

/** A raw HTTP exchange: writes `chunks` (with pauses) and resolves with what came back before the socket closed or `waitMs` passed. */
function raw(chunks: Array<string | Buffer>, waitMs: number, pauseMs = 0): Promise<{ text: string; closed: boolean }> {
  return new Promise((resolve) => {
    const socket: Socket = connect(Number(new URL(t.base).port), '127.0.0.1');
    let text = '';
    let closed = false;
    socket.on('data', (data) => (text += data.toString('latin1')));
    socket.on('error', () => {});
    socket.on('close', () => {
      closed = true;
      clearTimeout(timer);
      resolve({ text, closed });
    });
    const timer = setTimeout(() => {
      socket.destroy();
      resolve({ text, closed });
    }, waitMs);
    void (async () => {
      for (const chunk of chunks) {
        if (socket.destroyed) return;
        socket.write(chunk);
        if (pauseMs > 0) await new Promise((r) => setTimeout(r, pauseMs));
      }
    })();
  });
}

async function stillServing(): Promise<void> {
  const response = await fetch(`${t.base}/v1/track`, { method: 'POST', headers: { authorization: t.auth, 'content-type': 'application/json' }, body: '{"anonymousId":"probe","event":"Alive"}' });
  expect(response.status).toBe(200);
}

describe('bad input table', () => {
  it(`has at least 40 cases (${badInputs.length})`, () => {
    expect(badInputs.length).toBeGreaterThanOrEqual(40);
  });

  it.each(badInputs.map((input) => [input.name, input] as const))('%s → its status and code, nothing written', async (_name, input) => {
    const { status, body } = await send(input);
    expect({ status, code: (body as { error?: { code?: string } } | undefined)?.error?.code }).toEqual({ status: input.status, code: input.code });
    if (input.index !== undefined) expect(body).toMatchObject({ error: { index: input.index } });
    expect(await t.entries()).toBe(0);
  });
});

describe('hostile connections', () => {
  it('411 for a POST without Content-Length', async () => {
    const { text } = await raw([`POST /v1/track HTTP/1.1\r\nHost: x\r\nAuthorization: ${t.auth}\r\nContent-Type: application/json\r\n\r\n`], 1000);
    expect(text).toMatch(/^HTTP\/1.1 411/);
    expect(text).toContain('INGEST_LENGTH_REQUIRED');
  });

  it('408 and a closed connection for a slow body (slowloris)', async () => {
    const started = Date.now();
    const { text, closed } = await raw([`POST /v1/track HTTP/1.1\r\nHost: x\r\nAuthorization: ${t.auth}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"anon`], 3000);
    expect(text).toMatch(/^HTTP\/1.1 408/);
    expect(text).toContain('INGEST_REQUEST_TIMEOUT');
    expect(closed).toBe(true);
    expect(Date.now() - started).toBeLessThan(2500);
  });

  it('a client dribbling headers does not stop others being served', async () => {
    const dribble = raw(Array.from({ length: 10 }, (_, i) => `X-Slow-${i}: y\r\n`), 1500, 100);
    await stillServing();
    await dribble;
  });

  it('refuses huge headers without answering 2xx', async () => {
    const { text, closed } = await raw([`POST /v1/track HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(64 * 1024)}\r\nContent-Length: 2\r\n\r\n{}`], 2000);
    expect(text === '' ? closed : /^HTTP\/1.1 4\d\d/.test(text)).toBe(true);
  });

  it('a client that disconnects mid-body leaves no trace', async () => {
    const { closed } = await raw([`POST /v1/hits HTTP/1.1\r\nHost: x\r\nAuthorization: ${t.auth}\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n[{"visitorId":`], 200);
    expect(closed).toBe(false);
    await waitFor(async () => (t.ingest.server.inFlightBytes === 0 ? true : undefined), 2000, 'the aborted body to be released');
  });

  it('drops __proto__, constructor and prototype keys instead of merging them', async () => {
    const body = '{"anonymousId":"proto-1","event":"P","__proto__":{"polluted":1},"properties":{"__proto__":{"polluted":1},"ok":1,"constructor":{"prototype":{"polluted":1}}},"context":{"prototype":1}}';
    const response = await fetch(`${t.base}/v1/track`, { method: 'POST', headers: { authorization: t.auth, 'content-type': 'application/json' }, body });
    expect(response.status).toBe(200);
    const hit = (await t.hits()).find((h) => h.visitorId === 'proto-1');
    expect(hit?.dims).toEqual({ 'properties.ok': 1 });
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('keeps serving after all of it', async () => {
    await stillServing();
    const health = await fetch(`${t.base}/healthz`);
    expect(health.status).toBe(200);
  });
});

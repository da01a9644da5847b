// Ordered, idempotent shutdown and log redaction, as a process would experience them.
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { Lifecycle } from '../../src/core/lifecycle.js';
import { createLogger } from '../../src/core/log.js';

describe('Lifecycle', () => {
  it('runs steps last-registered first, collects every error, and runs them only once', async () => {
    const lifecycle = new Lifecycle();
    const ran: string[] = [];
    lifecycle.onShutdown('close redis', () => void ran.push('redis'));
    lifecycle.onShutdown('close channels', () => {
      ran.push('channels');
      throw new Error('smtp pool would not close');
    });
    lifecycle.onShutdown('drain stages', async () => void ran.push('stages'));
    const [first, second] = await Promise.all([lifecycle.shutdown(1000), lifecycle.shutdown(1000)]);
    expect(ran).toEqual(['stages', 'channels', 'redis']);
    expect(first!.map((e) => e.message)).toEqual(['smtp pool would not close']);
    expect(second).toBe(first);
    expect(lifecycle.closing).toBe(true);
  });

  it('gives up on a step that outlives the timeout and still runs the next ones', async () => {
    const lifecycle = new Lifecycle();
    const ran: string[] = [];
    lifecycle.onShutdown('close redis', () => void ran.push('redis'));
    lifecycle.onShutdown('stuck drain', () => new Promise<void>(() => undefined));
    const errors = await lifecycle.shutdown(100);
    expect(errors.map((e) => (e as { code?: string }).code)).toEqual(['SHUTDOWN_TIMEOUT']);
    expect(ran).toEqual(['redis']);
  });
});

describe('logger', () => {
  it('redacts addresses, phone numbers, bodies and secrets wherever they appear', () => {
    const lines: string[] = [];
    const sink = new Writable({ write: (chunk, _enc, done) => (lines.push(String(chunk)), done()) });
    const logger = createLogger('info', sink);
    logger.info({ email: 'ann@example.com', message: { to: 'bob@example.com', phone: '+33612345678', html: '<p>Hi Ann</p>' }, profile: { contact: { email: 'c@example.com' } }, writeKey: 'wk_live_1' }, 'sent');
    const text = lines.join('');
    for (const secret of ['ann@example.com', 'bob@example.com', '+33612345678', 'Hi Ann', 'c@example.com', 'wk_live_1']) expect(text).not.toContain(secret);
    expect(text).toContain('[redacted]');
    expect(JSON.parse(text).msg).toBe('sent');
  });
});

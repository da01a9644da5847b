// SMTP failure classification (SPEC §7: 4xx, connection errors and timeouts transient; 5xx
// permanent; authentication failures transient) and the circuit breaker in front of the primary.
import { describe, expect, it } from 'vitest';
import { CircuitBreaker } from '../../src/channels/circuit-breaker.js';
import { classifySmtpError } from '../../src/channels/smtp-errors.js';

describe('classifySmtpError', () => {
  it('classifies by reply code and error code, never by text', () => {
    expect(classifySmtpError({ code: 'EENVELOPE', responseCode: 451, response: '451 4.7.1 Greylisted' })).toEqual({ permanent: false, reply: '451 4.7.1 Greylisted', serverFailing: false });
    expect(classifySmtpError({ code: 'EENVELOPE', responseCode: 550, response: '550 5.1.1 No such user' })).toMatchObject({ permanent: true, serverFailing: false });
    expect(classifySmtpError({ code: 'ECONNECTION', responseCode: 421, response: '421 Too busy' })).toMatchObject({ permanent: false, serverFailing: true });
    expect(classifySmtpError({ code: 'EAUTH', responseCode: 535, response: '535 Authentication failed' })).toMatchObject({ permanent: false, serverFailing: true });
    expect(classifySmtpError({ code: 'ETIMEDOUT', message: 'Greeting never received' })).toEqual({ permanent: false, reply: 'ETIMEDOUT: Greeting never received', serverFailing: true });
    expect(classifySmtpError({ code: 'EENVELOPE', message: 'No recipients defined' })).toMatchObject({ permanent: true, serverFailing: false });
  });
});

describe('CircuitBreaker', () => {
  it('opens after the threshold, probes once after the cool-down, closes on success', () => {
    let now = 0;
    const breaker = new CircuitBreaker(2, 1000, { now: () => now });
    breaker.primaryDown();
    expect(breaker.route()).toBe('primary');
    breaker.primaryDown();
    expect([breaker.open, breaker.route()]).toEqual([true, 'fallback']);
    now = 1000;
    expect(breaker.route()).toBe('primary');
    expect(breaker.route()).toBe('fallback');
    breaker.primaryDown();
    now = 1500;
    expect(breaker.route()).toBe('fallback');
    now = 2000;
    expect(breaker.route()).toBe('primary');
    breaker.primaryUp();
    expect([breaker.open, breaker.route()]).toEqual([false, 'primary']);
  });
});

// Email over SMTP (SPEC §7): nodemailer's pooled transport (connections, messages per connection,
// rate limit), STARTTLS when the server offers it or TLS with smtps://, auth from the URL,
// optional DKIM. With a fallback URL, a circuit breaker sends through the fallback while the
// primary is failing; a message whose primary attempt failed at server level (refused, timed
// out, 421) is handed to the fallback at once rather than waiting for a retry.
import { connect, Socket } from 'node:net';
import { createTransport, type Transporter } from 'nodemailer';
import SMTPPool from 'nodemailer/lib/smtp-pool/index.js';
import { systemClock, type Clock } from '../core/clock.js';
import { counter, gauge } from '../core/metrics.js';
import { permanentFailure, sent, transientFailure, type Channel, type SendResult } from '../model/channel.js';
import type { OutboxMessage } from '../model/message.js';
import { CircuitBreaker, type Route } from './circuit-breaker.js';
import { compose, type ComposedMail } from './mail-options.js';
import { classifySmtpError, type SmtpFailure } from './smtp-errors.js';

export interface SmtpSettings {
  url: string;
  fallbackUrl: string | null;
  /** PEM text of extra trusted certificate authorities. */
  ca: string | null;
  pool: { maxConnections: number; maxMessages: number; rateDeltaMs: number; rateLimit: number };
  dkim: { domainName: string; keySelector: string; privateKey: string } | null;
  timeoutMs: number;
  breaker: { failures: number; coolDownMs: number };
  defaultFrom: string;
}

const serverSends = counter('rebound_smtp_sends_total', 'Emails handed to an SMTP server, by server (primary, fallback) and result', ['server', 'result']);
const breakerOpen = gauge('rebound_smtp_breaker_open', '1 while the primary SMTP server is bypassed for the fallback');

type Attempt = { ok: true; result: SendResult } | { ok: false; failure: SmtpFailure };

/**
 * Opens each pooled connection ourselves, with Nagle's algorithm off: nodemailer writes the end
 * of DATA as a separate small segment, which Nagle holds until the server's delayed ACK (~40 ms
 * per message); without it a connection carries several times more messages per second.
 * TLS (smtps, STARTTLS) is still negotiated by nodemailer over this socket. A failed connect is
 * handed over as a socket that fails at once: nodemailer's pool leaks its slot when getSocket
 * itself reports an error, but handles a socket error like any connection failure.
 */
function openSocket(timeoutMs: number): NonNullable<SMTPPool.Options['getSocket']> {
  return (options, callback) => {
    const target = `${options.host ?? 'localhost'}:${options.port ?? 25}`;
    const socket = connect({ host: options.host ?? 'localhost', port: options.port ?? 25 });
    socket.setNoDelay(true);
    let settled = false;
    const fail = (err: Error): void => {
      if (settled) return;
      settled = true;
      socket.destroy();
      const failing = new Socket();
      callback(null, { connection: failing });
      failing.destroy(err);
    };
    socket.setTimeout(timeoutMs, () => fail(Object.assign(new Error(`connection to ${target} timed out`), { code: 'ETIMEDOUT' })));
    socket.once('error', fail);
    socket.once('connect', () => {
      if (settled) return;
      settled = true;
      socket.setTimeout(0);
      socket.removeListener('error', fail);
      callback(null, { connection: socket });
    });
  };
}

function transport(url: string, settings: SmtpSettings): Transporter<SMTPPool.SentMessageInfo> {
  const { pool, dkim, ca, timeoutMs } = settings;
  const options: SMTPPool.Options & { maxRequeues: number } = {
    pool: true,
    url,
    maxConnections: pool.maxConnections,
    maxMessages: pool.maxMessages,
    rateDelta: pool.rateDeltaMs,
    ...(pool.rateLimit > 0 ? { rateLimit: pool.rateLimit } : {}),
    connectionTimeout: timeoutMs,
    greetingTimeout: timeoutMs,
    socketTimeout: timeoutMs,
    ...(ca === null ? {} : { tls: { ca } }),
    ...(dkim === null ? {} : { dkim }),
    logger: false,
    // A connection lost mid-send fails that message (retried by deliver, which knows its
    // validity) instead of nodemailer requeueing it without end.
    maxRequeues: 0,
    getSocket: openSocket(timeoutMs),
  };
  // The pool itself, not createTransport(options): given a `url`, createTransport keeps only
  // what the URL says and drops every other option (pool, TLS, timeouts, DKIM).
  return createTransport(new SMTPPool(options));
}

export class SmtpChannel implements Channel {
  readonly name = 'smtp';
  readonly #settings: SmtpSettings;
  readonly #primary: Transporter<SMTPPool.SentMessageInfo>;
  readonly #fallback: Transporter<SMTPPool.SentMessageInfo> | undefined;
  readonly #breaker: CircuitBreaker;

  constructor(settings: SmtpSettings, clock: Clock = systemClock) {
    this.#settings = settings;
    this.#primary = transport(settings.url, settings);
    this.#fallback = settings.fallbackUrl === null ? undefined : transport(settings.fallbackUrl, settings);
    this.#breaker = new CircuitBreaker(settings.breaker.failures, settings.breaker.coolDownMs, clock);
  }

  async send(message: OutboxMessage): Promise<SendResult> {
    let mail: ComposedMail;
    try {
      mail = await compose(message, this.#settings.defaultFrom);
    } catch (err) {
      return permanentFailure(`cannot compose the message: ${(err as Error).message}`);
    }
    const route: Route = this.#fallback === undefined ? 'primary' : this.#breaker.route();
    let attempt = await this.#attempt(route, mail);
    if (!attempt.ok && route === 'primary' && this.#fallback !== undefined && attempt.failure.serverFailing) {
      attempt = await this.#attempt('fallback', mail);
    }
    if (attempt.ok) return attempt.result;
    const { permanent, reply } = attempt.failure;
    return permanent ? permanentFailure(reply) : transientFailure(reply);
  }

  async #attempt(route: Route, mail: ComposedMail): Promise<Attempt> {
    const transporter = route === 'primary' ? this.#primary : (this.#fallback as Transporter<SMTPPool.SentMessageInfo>);
    try {
      const info = await transporter.sendMail({ envelope: mail.envelope, raw: mail.raw, messageId: mail.messageId });
      this.#observe(route, undefined);
      serverSends.labels(route, 'ok').inc();
      return { ok: true, result: sent(mail.messageId, info.response) };
    } catch (err) {
      const failure = classifySmtpError(err);
      this.#observe(route, failure);
      serverSends.labels(route, failure.permanent ? 'permanent' : 'transient').inc();
      return { ok: false, failure };
    }
  }

  #observe(route: Route, failure: SmtpFailure | undefined): void {
    if (route !== 'primary' || this.#fallback === undefined) return;
    if (failure?.serverFailing) this.#breaker.primaryDown();
    else this.#breaker.primaryUp();
    breakerOpen.set(this.#breaker.open ? 1 : 0);
  }

  async close(): Promise<void> {
    this.#primary.close();
    this.#fallback?.close();
  }
}

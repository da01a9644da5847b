// What an SMTP failure means for the message (SPEC §7): 4xx replies, connection errors and
// timeouts are transient; 5xx replies are permanent. Authentication failures are transient too:
// they say the setup is wrong, not the message, and must not fail every message for good.
// Classified by nodemailer's `responseCode` and error `code`, never by message text.

export interface SmtpFailure {
  permanent: boolean;
  /** The server's reply line when it gave one, else the client's error. */
  reply: string;
  /** The server itself is failing (refused, timed out, 421, auth): counts toward the circuit breaker. */
  serverFailing: boolean;
}

interface NodemailerError {
  code?: string;
  responseCode?: number;
  response?: string;
  message?: string;
}

/** Client-side error codes that say the connection or the server is the problem. */
const connectionCodes = new Set(['ECONNECTION', 'ETIMEDOUT', 'ESOCKET', 'EDNS', 'ETLS', 'EPROTOCOL', 'EAUTH', 'ENOAUTH', 'EOAUTH2', 'EMAXLIMIT', 'ECONNREFUSED', 'ECONNRESET', 'EPROXY']);
/** Client-side error codes that say the message itself cannot be sent (no reply code involved). */
const messageCodes = new Set(['EENVELOPE', 'EMESSAGE', 'ESTREAM', 'EFILEACCESS', 'EURLACCESS', 'EREQUIRETLS']);

export function classifySmtpError(err: unknown): SmtpFailure {
  const e = (err ?? {}) as NodemailerError;
  const text = (e.response ?? e.message ?? String(err)).trim();
  const reply = e.responseCode !== undefined && !text.startsWith(String(e.responseCode)) ? `${e.responseCode} ${text}` : text;
  if (e.code === 'EAUTH' || e.code === 'ENOAUTH') return { permanent: false, reply, serverFailing: true };
  if (typeof e.responseCode === 'number') {
    if (e.responseCode >= 500) return { permanent: true, reply, serverFailing: false };
    return { permanent: false, reply, serverFailing: e.responseCode === 421 };
  }
  if (e.code !== undefined && connectionCodes.has(e.code)) return { permanent: false, reply: `${e.code}: ${text}`, serverFailing: true };
  if (e.code !== undefined && messageCodes.has(e.code)) return { permanent: true, reply: `${e.code}: ${text}`, serverFailing: false };
  return { permanent: false, reply: e.code ? `${e.code}: ${text}` : text, serverFailing: true };
}

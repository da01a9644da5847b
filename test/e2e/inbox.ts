// What reached the test's SMTP and SMPP servers, as a recipient sees it: emails parsed with
// mailparser (recipient, subject, text, html, Message-ID) and SMS reassembled from their
// submit_sm parts (concatenated parts share the UDH reference of their message).
import type { Pdu } from 'smpp';
import type { SmppTestServer } from '../deliver/smpp-test-server.js';
import type { SmtpTestServer } from '../deliver/smtp-test-server.js';

export interface Email {
  to: string;
  subject: string;
  text: string;
  html: string;
  messageId: string;
}

export interface Sms {
  /** Destination digits, without `+`. */
  to: string;
  text: string;
}

const parsed = new WeakMap<Buffer, Email>();

/** Every email received so far, in arrival order (each parsed once). */
export async function emailsOf(smtp: SmtpTestServer): Promise<Email[]> {
  const emails: Email[] = [];
  for (const mail of smtp.received.slice()) {
    let email = parsed.get(mail.raw);
    if (email === undefined) {
      const message = await mail.parse();
      const to = Array.isArray(message.to) ? message.to.map((a) => a.text).join(', ') : (message.to?.text ?? '');
      email = { to, subject: message.subject ?? '', text: message.text ?? '', html: typeof message.html === 'string' ? message.html : '', messageId: mail.messageId };
      parsed.set(mail.raw, email);
    }
    emails.push(email);
  }
  return emails;
}

/** Every SMS received so far; a concatenated one once all its parts arrived. */
export function smsOf(smsc: SmppTestServer): Sms[] {
  const messages: Sms[] = [];
  const parts = new Map<string, { total: number; texts: Map<number, string>; to: string }>();
  for (const pdu of smsc.submits.slice() as Pdu[]) {
    const to = String(pdu.destination_addr);
    const sm = pdu.short_message as { message: string; udh?: Buffer[] };
    const udh = sm.udh?.[0];
    if (udh === undefined || udh.length < 5) {
      messages.push({ to, text: sm.message });
      continue;
    }
    // One key per part set: a resent message (same reference) starts a new set once its parts are complete.
    const base = `${to}|${udh[2]}|${udh[3]}`;
    let key = base;
    for (let n = 1; parts.get(key)?.texts.has(udh[4] as number); n++) key = `${base}|${n}`;
    const set = parts.get(key) ?? { total: udh[3] as number, texts: new Map<number, string>(), to };
    set.texts.set(udh[4] as number, sm.message);
    parts.set(key, set);
    if (set.texts.size === set.total) {
      messages.push({ to, text: [...set.texts.entries()].sort((a, b) => a[0] - b[0]).map(([, t]) => t).join('') });
    }
  }
  return messages;
}

// An outbox message as nodemailer mail options: the same for SMTP and the .eml file outbox, so
// both produce the same RFC 5322 message, with the stable Message-ID and the template's headers
// (List-Unsubscribe, List-Unsubscribe-Post). Nodemailer never reads files or URLs for us.
// compose() builds the whole message in memory once: SMTP then writes it as one buffer rather
// than as the many small chunks of nodemailer's streaming composer (one syscall each).
import MailComposer from 'nodemailer/lib/mail-composer/index.js';
import type Mail from 'nodemailer/lib/mailer/index.js';
import { messageIdHeader } from '../model/channel.js';
import type { OutboxMessage } from '../model/message.js';

/** Headers a template may not set: nodemailer writes them from the message itself. */
const reserved = new Set(['from', 'to', 'cc', 'bcc', 'subject', 'message-id', 'reply-to', 'date', 'content-type', 'mime-version', 'content-transfer-encoding']);

function extraHeaders(headers: Record<string, string> | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers ?? {})) {
    if (!reserved.has(name.toLowerCase()) && /^[!-9;-~]+$/.test(name)) out[name] = value.replace(/[\r\n]+/g, ' ');
  }
  return out;
}

export function mailOptions(message: OutboxMessage, defaultFrom: string): Mail.Options {
  const from = message.from ?? defaultFrom;
  return {
    from,
    to: message.to,
    ...(message.replyTo === undefined ? {} : { replyTo: message.replyTo }),
    subject: message.subject ?? '',
    ...(message.html === undefined ? {} : { html: message.html }),
    ...(message.text === undefined ? {} : { text: message.text }),
    headers: extraHeaders(message.headers),
    messageId: messageIdHeader(message.id, from),
    disableFileAccess: true,
    disableUrlAccess: true,
  };
}

export interface ComposedMail {
  envelope: { from: string | false; to: string[] };
  raw: Buffer;
  messageId: string;
}

/** The RFC 5322 bytes of a message and its SMTP envelope. */
export async function compose(message: OutboxMessage, defaultFrom: string): Promise<ComposedMail> {
  const node = new MailComposer(mailOptions(message, defaultFrom)).compile();
  const { from, to } = node.getEnvelope();
  return { envelope: { from, to }, raw: await node.build(), messageId: node.messageId() };
}

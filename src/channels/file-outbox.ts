// The file outbox (SPEC §1, §7): the embedded default when no SMTP server or SMS gateway is
// configured. Emails become `<dataDir>/outbox/email/<id>.eml` (a real RFC 5322 message, built by
// nodemailer's MailComposer exactly as SMTP would send it) and SMS `<dataDir>/outbox/sms/<id>.json`.
// A file is written under a temporary name and renamed, so a reader never sees half a message;
// a message sent twice overwrites its own file. Always succeeds unless the disk fails (transient).
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { sent, transientFailure, type Channel, type SendResult } from '../model/channel.js';
import type { OutboxMessage } from '../model/message.js';
import { smsInfo } from '../model/sms-encoding.js';
import { compose } from './mail-options.js';

/** A file name for a message id: safe characters kept, anything else written `_xxxx`. */
export function outboxFileName(messageId: string, extension: string): string {
  const safe = messageId.replace(/[^A-Za-z0-9.-]/g, (ch) => `_${ch.charCodeAt(0).toString(16).padStart(4, '0')}`);
  return `${safe.startsWith('.') ? `_${safe}` : safe}.${extension}`;
}

abstract class FileChannel implements Channel {
  abstract readonly name: string;
  readonly #dir: string;
  readonly #extension: string;
  #made: Promise<unknown> | undefined;

  constructor(dir: string, extension: string) {
    this.#dir = dir;
    this.#extension = extension;
  }

  protected abstract render(message: OutboxMessage): Promise<Buffer | string>;

  async send(message: OutboxMessage): Promise<SendResult> {
    try {
      this.#made ??= mkdir(this.#dir, { recursive: true });
      await this.#made;
      const file = join(this.#dir, outboxFileName(message.id, this.#extension));
      const temp = `${file}.${process.pid}.tmp`;
      await writeFile(temp, await this.render(message));
      await rename(temp, file);
      return sent(file);
    } catch (err) {
      this.#made = undefined;
      return transientFailure(`cannot write the outbox file: ${(err as Error).message}`);
    }
  }

  async close(): Promise<void> {}
}

export class EmailFileOutbox extends FileChannel {
  readonly name = 'file';
  readonly #defaultFrom: string;

  constructor(dir: string, defaultFrom: string) {
    super(dir, 'eml');
    this.#defaultFrom = defaultFrom;
  }

  protected async render(message: OutboxMessage): Promise<Buffer> {
    return (await compose(message, this.#defaultFrom)).raw;
  }
}

export class SmsFileOutbox extends FileChannel {
  readonly name = 'file';

  constructor(dir: string) {
    super(dir, 'json');
  }

  protected async render(message: OutboxMessage): Promise<string> {
    const text = message.text ?? '';
    const { encoding, segments } = message.sms ?? smsInfo(text);
    const body = { id: message.id, to: message.to, from: message.from ?? null, text, encoding, segments, eventId: message.eventId, firedAt: message.firedAt };
    return `${JSON.stringify(body, null, 2)}\n`;
  }
}

// The file outbox, the embedded default (SPEC §1): with no SMTP, SMPP or webhook URL, the deliver
// role writes each email as a real RFC 5322 .eml file and each SMS as a JSON file under
// <dataDir>/outbox; a message sent twice leaves one file.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { simpleParser } from 'mailparser';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { EmailFileOutbox, outboxFileName } from '../../src/channels/file-outbox.js';
import { emailMessage, smsMessage, startDeliverHarness, type DeliverHarness } from '../deliver/harness.js';

let harness: DeliverHarness | undefined;
afterEach(async () => {
  await harness?.close();
  harness = undefined;
});

describe('file outbox', () => {
  it('writes emails as .eml files and SMS as JSON files under <dataDir>/outbox', async () => {
    harness = await startDeliverHarness({ redis: { url: inject('redisUrl') } });
    const email = emailMessage();
    const sms = smsMessage('Привет, your cart is waiting');
    await harness.append(email);
    await harness.append(sms);
    expect(await harness.waitForStatus(email.id, ['processed'])).toMatchObject({ attempts: '1' });
    await harness.waitForStatus(sms.id, ['processed']);

    const emailDir = join(harness.dataDir, 'outbox', 'email');
    expect(readdirSync(emailDir)).toEqual([`${email.id}.eml`]);
    const mail = await simpleParser(readFileSync(join(emailDir, `${email.id}.eml`)));
    expect(mail.messageId).toBe(`<${email.id}@example.com>`);
    expect(mail.subject).toBe(email.subject);
    expect(mail.html).toContain('<b>trail shoes</b>');
    expect(mail.text?.trim()).toBe(email.text);
    expect(mail.headerLines.find((h) => h.key === 'list-unsubscribe')?.line).toBe('List-Unsubscribe: <https://shop.example.com/u/abc>');

    const smsDir = join(harness.dataDir, 'outbox', 'sms');
    expect(readdirSync(smsDir)).toEqual([`${sms.id}.json`]);
    expect(JSON.parse(readFileSync(join(smsDir, `${sms.id}.json`), 'utf8'))).toMatchObject({ id: sms.id, to: '+33612345678', text: sms.text, encoding: 'UCS-2', segments: 1 });
  });

  it('overwrites its own file when a message is sent again, and names files safely', async () => {
    const { mkdtempSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const dir = mkdtempSync(join(tmpdir(), 'rebound-outbox-'));
    const outbox = new EmailFileOutbox(dir, 'Rebound <rebound@localhost>');
    const message = emailMessage({ id: '../escape/attempt' });
    expect(await outbox.send(message)).toMatchObject({ ok: true });
    expect(await outbox.send(message)).toMatchObject({ ok: true });
    expect(readdirSync(dir)).toEqual([outboxFileName(message.id, 'eml')]);
    expect(outboxFileName(message.id, 'eml')).not.toContain('/');
  });
});

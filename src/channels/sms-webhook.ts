// SMS through an HTTP gateway (SPEC §7): POST of a JSON body, signed so that the gateway can
// check it came from us and is fresh: `X-Rebound-Timestamp: <epoch ms>` and
// `X-Rebound-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>`.
// `Idempotency-Key: <message id>` lets a gateway drop a resend. 2xx is success (the JSON
// answer's `id` becomes the remote id); 429, 5xx, timeouts and network errors are transient;
// any other status is permanent.
import { createHmac } from 'node:crypto';
import { permanentFailure, sent, transientFailure, type Channel, type SendResult } from '../model/channel.js';
import type { OutboxMessage } from '../model/message.js';
import { smsInfo } from '../model/sms-encoding.js';

export interface WebhookSettings {
  url: string;
  secret: string;
  timeoutMs: number;
}

/** The signature header's value for a body sent at `timestamp`. */
export function webhookSignature(secret: string, timestamp: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

const REPLY_CHARS = 300;

async function replyOf(response: Response): Promise<string> {
  const text = await response.text().catch(() => '');
  return `HTTP ${response.status}${text ? `: ${text.slice(0, REPLY_CHARS)}` : ''}`;
}

function remoteIdOf(text: string): string | undefined {
  try {
    const id = (JSON.parse(text) as { id?: unknown }).id;
    return typeof id === 'string' || typeof id === 'number' ? String(id) : undefined;
  } catch {
    return undefined;
  }
}

export class WebhookSmsChannel implements Channel {
  readonly name = 'webhook';
  readonly #settings: WebhookSettings;

  constructor(settings: WebhookSettings) {
    this.#settings = settings;
  }

  async send(message: OutboxMessage): Promise<SendResult> {
    const text = message.text ?? '';
    const { encoding, segments } = message.sms ?? smsInfo(text);
    const body = JSON.stringify({ id: message.id, to: message.to, from: message.from ?? null, text, encoding, segments, eventId: message.eventId });
    const timestamp = String(Date.now());
    let response: Response;
    try {
      response = await fetch(this.#settings.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'idempotency-key': message.id,
          'x-rebound-timestamp': timestamp,
          'x-rebound-signature': webhookSignature(this.#settings.secret, timestamp, body),
        },
        body,
        signal: AbortSignal.timeout(this.#settings.timeoutMs),
      });
    } catch (err) {
      const cause = (err as { cause?: { code?: string } }).cause?.code;
      return transientFailure(`webhook request failed: ${cause ?? (err as Error).name}`);
    }
    if (response.ok) {
      const answer = await response.text().catch(() => '');
      return sent(remoteIdOf(answer), `HTTP ${response.status}`);
    }
    const reply = await replyOf(response);
    return response.status === 429 || response.status >= 500 ? transientFailure(reply) : permanentFailure(reply);
  }

  async close(): Promise<void> {}
}

// The SMTP server every system under test sends to in the end-to-end and scale-out scenarios: a
// local `smtp-server` in the harness process that accepts every message (no AUTH, no STARTTLS)
// and counts them. Timings come from the senders (Rebound's records, the baseline's worker).
import { SMTPServer } from 'smtp-server';
import { freePort } from '../../test/support/redis-server.js';

export interface SmtpSink {
  url: string;
  /** Messages accepted since start (or since the last reset). */
  accepted: number;
  close(): Promise<void>;
}

export async function startSmtpSink(): Promise<SmtpSink> {
  const port = await freePort();
  const sink: SmtpSink = { url: `smtp://127.0.0.1:${port}`, accepted: 0, close: async () => undefined };
  const server = new SMTPServer({
    logger: false,
    authOptional: true,
    disabledCommands: ['AUTH', 'STARTTLS'],
    maxClients: 1000,
    onData(stream, _session, callback) {
      stream.on('data', () => undefined);
      stream.on('end', () => {
        sink.accepted++;
        callback(null, 'queued');
      });
    },
  });
  server.on('error', () => undefined);
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', () => resolve()));
  sink.close = () => new Promise<void>((resolve) => server.close(() => resolve()));
  return sink;
}

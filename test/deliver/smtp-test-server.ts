// A real SMTP server for the deliver tests (smtp-server): records every message it accepts (raw
// bytes, parsed with mailparser on demand), the connections it saw and the sessions' TLS and
// user; a hook decides the reply to each RCPT TO. It can be stopped and started again on the
// same port (an SMTP outage).
import { simpleParser, type ParsedMail } from 'mailparser';
import { SMTPServer, type SMTPServerAddress, type SMTPServerOptions, type SMTPServerSession } from 'smtp-server';
import { freePort } from '../support/redis-server.js';

export interface ReceivedMail {
  raw: Buffer;
  messageId: string;
  secure: boolean;
  user: string | undefined;
  parse(): Promise<ParsedMail>;
}

export interface SmtpTestServerOptions {
  port?: number;
  /** A reply code for this RCPT (e.g. 451, 550), or undefined to accept it. */
  onRcpt?: (address: string) => { code: number; text: string } | undefined;
  auth?: { user: string; pass: string };
  tls?: { key: string; cert: string };
  /** Holds each message this long before accepting it (keeps messages in flight). */
  acceptDelayMs?: number;
}

export interface SmtpTestServer {
  port: number;
  url: string;
  received: ReceivedMail[];
  connections: number;
  rcpts: string[];
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Message-ID header → times accepted. */
  counts(): Map<string, number>;
}

const messageIdOf = (raw: Buffer): string => /^Message-ID:\s*(<[^>]*>)/im.exec(raw.toString('latin1'))?.[1] ?? '';

export async function startSmtpTestServer(options: SmtpTestServerOptions = {}): Promise<SmtpTestServer> {
  const port = options.port ?? (await freePort());
  let server: SMTPServer | undefined;
  const state: SmtpTestServer = {
    port,
    url: options.auth ? `smtp://${options.auth.user}:${options.auth.pass}@127.0.0.1:${port}` : `smtp://127.0.0.1:${port}`,
    received: [],
    connections: 0,
    rcpts: [],
    async start() {
      const serverOptions: SMTPServerOptions = {
        logger: false,
        closeTimeout: 100,
        authOptional: options.auth === undefined,
        disabledCommands: options.tls ? [] : ['STARTTLS', ...(options.auth ? [] : ['AUTH'])],
        ...(options.tls ? { key: options.tls.key, cert: options.tls.cert } : {}),
        onConnect(_session, callback) {
          state.connections++;
          callback();
        },
        onAuth(auth, _session, callback) {
          if (auth.username === options.auth?.user && auth.password === options.auth?.pass) callback(null, { user: auth.username });
          else callback(new Error('535 Authentication failed'));
        },
        onRcptTo(address: SMTPServerAddress, _session: SMTPServerSession, callback) {
          state.rcpts.push(address.address);
          const reply = options.onRcpt?.(address.address);
          if (reply === undefined) return callback();
          const err = new Error(reply.text) as Error & { responseCode: number };
          err.responseCode = reply.code;
          callback(err);
        },
        onData(stream, session, callback) {
          const chunks: Buffer[] = [];
          stream.on('data', (chunk: Buffer) => chunks.push(chunk));
          stream.on('end', () => {
            const raw = Buffer.concat(chunks);
            const accept = (): void => {
              state.received.push({ raw, messageId: messageIdOf(raw), secure: session.secure, user: session.user as string | undefined, parse: () => simpleParser(raw) });
              callback(null, `Message queued as q${state.received.length}`);
            };
            if (options.acceptDelayMs) setTimeout(accept, options.acceptDelayMs);
            else accept();
          });
        },
      };
      server = new SMTPServer(serverOptions);
      server.on('error', () => undefined);
      await new Promise<void>((resolve, reject) => {
        server!.once('error', reject);
        server!.listen(port, '127.0.0.1', () => resolve());
      });
    },
    async stop() {
      const current = server;
      server = undefined;
      if (current) await new Promise<void>((resolve) => current.close(() => resolve()));
    },
    counts() {
      const counts = new Map<string, number>();
      for (const mail of state.received) counts.set(mail.messageId, (counts.get(mail.messageId) ?? 0) + 1);
      return counts;
    },
  };
  await state.start();
  return state;
}

// The pino logger. Personal data never reaches a log line: addresses, phone numbers and
// message bodies are redacted wherever they appear in a logged object.
import { pino, type DestinationStream, type Logger } from 'pino';

export type { Logger };

const redactedKeys = ['email', 'phone', 'address', 'to', 'body', 'html', 'text', 'subject', 'token', 'password', 'writeKey'];

export const redactPaths = [...redactedKeys, ...redactedKeys.map((key) => `*.${key}`), ...redactedKeys.map((key) => `*.*.${key}`)];

export function createLogger(level: string, destination?: NodeJS.WritableStream): Logger {
  const options = { level, base: { pid: process.pid }, redact: { paths: redactPaths, censor: '[redacted]' } };
  return destination ? pino(options, destination as DestinationStream) : pino(options);
}

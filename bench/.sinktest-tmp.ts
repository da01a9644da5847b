import { startSmtpSink } from '/work/main/bench/scenarios/e2e-sink.ts';
import { createTransport } from 'nodemailer';
import SMTPPool from 'nodemailer/lib/smtp-pool/index.js';
const sink = await startSmtpSink();
const t = createTransport(new SMTPPool({ pool: true, url: sink.url, maxConnections: Number(process.env.C ?? 8), maxMessages: 1e6, logger: false }));
const n = 3000; let next = 0; const t0 = performance.now();
await Promise.all(Array.from({ length: 64 }, async () => { while (next < n) { next++; await t.sendMail({ from: 'a@b.c', to: 'x@y.z', subject: 's', html: '<p>' + 'x'.repeat(1200) + '</p>' }); } }));
console.log('msgs/s', n / ((performance.now() - t0) / 1000));
t.close(); await sink.close(); process.exit(0);

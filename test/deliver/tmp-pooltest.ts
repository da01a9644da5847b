import { createTransport } from 'nodemailer';
import { startSmtpTestServer } from '/work/main/test/deliver/smtp-test-server.ts';
const smtp = await startSmtpTestServer({});
const t = createTransport({ pool: true, url: smtp.url, maxConnections: 2, maxMessages: 1000, logger: true, debug: false } as any);
const sends = [];
for (let i = 0; i < 6; i++) sends.push(t.sendMail({ from: 'a@example.com', to: 'b@example.com', subject: 'x', text: 'y' }));
await Promise.all(sends);
console.log('connections', smtp.connections, 'received', smtp.received.length);
t.close(); await smtp.stop();

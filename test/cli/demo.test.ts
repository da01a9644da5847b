// `rebound demo` as a user runs it, against a real `rebound start` on embedded defaults whose
// first start applied a copy of the demo shop with the triggers' inactivity shortened from 30 s
// to 2 s (through `demo.definitions` in a test configuration file): hits are sent, triggers fire,
// messages land in the file outbox addressed to sample profiles, with their first names and the
// catalog's product names. Then the clear errors: no demo source, no ingest, a bad option.
import { spawn } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { simpleParser } from 'mailparser';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { stringify } from 'yaml';
import { freePort } from '../../src/core/redis/embedded.js';
import { newPrefix } from '../stages/pipeline-helpers.js';

const demoDir = resolve(import.meta.dirname, '../../config/definitions');
const temps: string[] = [];
afterAll(() => temps.forEach((t) => rmSync(t, { recursive: true, force: true })));

function tempDir(label: string): string {
  const dir = mkdtempSync(join(tmpdir(), `rebound-demo-${label}-`));
  temps.push(dir);
  return dir;
}

interface Run {
  exited: Promise<number | null>;
  output: () => string;
  stop: () => void;
}

function rebound(args: string[], env: Record<string, string>): Run {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], { env: { ...process.env, REBOUND_REDIS_URL: '', REBOUND_REDIS_CLUSTER: '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let text = '';
  child.stdout.on('data', (chunk: Buffer) => (text += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (text += chunk.toString()));
  return { exited: new Promise((done) => child.once('exit', done)), output: () => text, stop: () => void child.kill('SIGTERM') };
}

/** The demo shop with a 2 s inactivity, and a configuration file pointing at it. */
function quickDemo(): { config: string; definitions: string } {
  const definitions = tempDir('defs');
  cpSync(demoDir, definitions, { recursive: true });
  const triggers = join(definitions, 'triggers.yaml');
  writeFileSync(triggers, readFileSync(triggers, 'utf8').replace(/^inactivity: 30s$/gm, 'inactivity: 2s'));
  const config = join(tempDir('config'), 'rebound.yaml');
  writeFileSync(config, stringify({ demo: { definitions }, ingest: { host: '127.0.0.1', port: 0 }, admin: { port: 0 }, metrics: { port: 0 } }));
  return { config, definitions };
}

const profiles = readFileSync(join(demoDir, 'profiles.ndjson'), 'utf8')
  .split('\n')
  .filter(Boolean)
  .map((line) => JSON.parse(line) as { email: string; firstName: string });
const productNames = readFileSync(join(demoDir, 'catalog.ndjson'), 'utf8')
  .split('\n')
  .filter(Boolean)
  .map((line) => (JSON.parse(line) as { name: string }).name);

// Child processes compiling TypeScript on a shared 2-core machine: generous, not a speed check.
describe('rebound demo', { timeout: 240_000 }, () => {
  it('sends shoppers through the Segment API of a running start: hits, fired triggers, emails to sample profiles with catalog names', async () => {
    const { config } = quickDemo();
    const dataDir = tempDir('data');
    const env = { REBOUND_CONFIG: config, REBOUND_DATA_DIR: dataDir };
    const start = rebound(['start'], env);
    try {
      for (let i = 0; i < 1200 && !start.output().includes('Rebound started'); i++) await new Promise((r) => setTimeout(r, 50));
      expect(start.output()).toContain('first start: applied the definitions of');
      const port = /"port":(\d+),"msg":"ingest listening"/.exec(start.output())?.[1];
      expect(port).toBeDefined();

      const demo = rebound(['demo', '--duration', '5s', '--rate', '10', '--ingest-url', `http://127.0.0.1:${port}`], env);
      expect(await demo.exited, demo.output()).toBe(0);
      const output = demo.output();
      expect(output).toMatch(/^\[1s\] shoppers \d+ · hits sent \d+ · triggers fired \d+ · messages sent \d+/m);
      const hits = Number(/^demo ran [\d.]+ s: \d+ shoppers, (\d+) hits sent/m.exec(output)?.[1]);
      const fired = Number(/^triggers fired: (\d+)/m.exec(output)?.[1]);
      const sent = Number(/^messages sent: (\d+)/m.exec(output)?.[1]);
      expect(hits, output).toBeGreaterThan(0);
      expect(fired, output).toBeGreaterThan(0);
      expect(sent, output).toBeGreaterThan(0);
      expect(output).toContain(`file outbox: ${join(dataDir, 'outbox', 'email')} and ${join(dataDir, 'outbox', 'sms')}`);

      const emailDir = join(dataDir, 'outbox', 'email');
      const emails = await Promise.all(readdirSync(emailDir).map(async (name) => simpleParser(readFileSync(join(emailDir, name)))));
      expect(emails.length).toBeGreaterThan(0);
      for (const mail of emails) {
        const to = Array.isArray(mail.to) ? mail.to[0]?.text : mail.to?.text;
        const profile = profiles.find((p) => p.email === to);
        expect(profile, `${to} is a sample profile`).toBeDefined();
        expect(mail.text).toContain(profile?.firstName);
      }
      const named = emails.filter((mail) => productNames.some((name) => mail.text?.includes(name)));
      const products = emails.filter((mail) => /your cart|votre panier|looking at|regardiez/i.test(mail.text ?? ''));
      expect(products.length).toBeGreaterThan(0);
      expect(named.length).toBe(products.length);
    } finally {
      start.stop();
      await start.exited;
    }
  });

  it('says so, exit 2, when the installation has no demo source', async () => {
    const run = rebound(['demo', '--duration', '1s'], { REBOUND_REDIS_URL: inject('redisUrl'), REBOUND_PREFIX: newPrefix() });
    expect(await run.exited).toBe(2);
    expect(run.output()).toContain('rebound: DEMO_NOT_READY: no source "shop-web" in this installation');
  });

  it('says so, exit 2, when nothing listens at the ingest URL', async () => {
    const port = await freePort();
    const run = rebound(['demo', '--duration', '2s', '--write-key', 'some-write-key', '--ingest-url', `http://127.0.0.1:${port}`], { REBOUND_REDIS_URL: inject('redisUrl'), REBOUND_PREFIX: newPrefix() });
    expect(await run.exited).toBe(2);
    expect(run.output()).toContain(`rebound: DEMO_INGEST_FAILED: cannot reach the ingest API at http://127.0.0.1:${port}/v1/batch (ECONNREFUSED)`);
  });

  it('refuses a bad option with exit 2, naming it', async () => {
    const run = rebound(['demo', '--rate', '0'], { REBOUND_REDIS_URL: inject('redisUrl'), REBOUND_PREFIX: newPrefix() });
    expect(await run.exited).toBe(2);
    expect(run.output()).toContain('rebound: CONFIG_INVALID: --rate: new shoppers a second');
  });
});

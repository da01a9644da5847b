// `rebound apply -f PATH` as a user runs it: the real CLI in a child process against an admin
// API on a real Redis. Every problem printed with file:line and exit 2 (nothing sent); created
// then unchanged; --dry-run and --prune; token from the environment; the admin API unreachable.
import { spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { adminToken, sourceYaml, startTestAdmin, triggerYaml, writeTree, type TestAdmin } from '../admin/admin-helpers.js';

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

function rebound(args: string[], env: Record<string, string> = {}): Promise<Result> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], { env: { ...process.env, REBOUND_ADMIN_TOKEN: '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolve) => child.once('exit', (code) => resolve({ code, stdout, stderr })));
}

let admin: TestAdmin;
const roots: string[] = [];
beforeAll(async () => {
  admin = await startTestAdmin({ url: inject('redisUrl') });
});
afterAll(async () => {
  await admin.close();
  roots.forEach((root) => rmSync(root, { recursive: true, force: true }));
});

function folder(files: Record<string, string>): string {
  const root = writeTree(files);
  roots.push(root);
  return root;
}

const templateYaml = 'kind: Template\nid: cart-email\nchannel: email\nsubject: Your cart\nhtml: templates/cart.html.hbs\n';
const shop = (): string =>
  folder({
    'source.yaml': sourceYaml(),
    'triggers.yaml': `${triggerYaml('cart')}---\n${triggerYaml('browse')}`,
    'template.yaml': templateYaml,
    'templates/cart.html.hbs': '<p>{{default profile.firstName "Hello"}}, your cart</p>\n',
  });

const withAdmin = (extra: string[] = []): string[] => ['--admin-url', admin.url, '--token', adminToken, ...extra];

// Child processes compiling TypeScript on a shared 2-core machine: generous, not a speed check.
describe('rebound apply', { timeout: 180_000 }, () => {
  it('prints every problem with file:line, exits 2 and sends nothing', async () => {
    const root = folder({
      'defs.yaml': `${sourceYaml()}---\n${triggerYaml('cart').replace('type: abandonment', 'type: whenever')}---\nkind: Gadget\nid: x\n`,
      'more/template.yaml': templateYaml.replace('templates/cart.html.hbs', 'templates/missing.html.hbs'),
    });
    const result = await rebound(['apply', '-f', root, ...withAdmin()]);
    expect(result.code).toBe(2);
    const lines = result.stderr.trim().split('\n');
    expect(lines).toEqual([
      expect.stringMatching(new RegExp(`^${join(root, 'defs.yaml')}:10: Trigger cart: type: .*\\(TRIGGER_INVALID\\)$`)),
      expect.stringMatching(new RegExp(`^${join(root, 'defs.yaml')}:20: kind: unknown kind "Gadget".*\\(BUNDLE_DOCUMENT_INVALID\\)$`)),
      expect.stringMatching(new RegExp(`^${join(root, 'more/template.yaml')}:5: html: cannot read .*missing\\.html\\.hbs.*\\(BUNDLE_FILE_UNREADABLE\\)$`)),
      '3 problems; nothing was applied',
    ]);
    expect((await admin.call('GET', '/admin/sources')).body.items).toEqual([]);
  });

  it('dry-run lists what would be created; apply creates; again everything is unchanged', async () => {
    const root = shop();
    const dry = await rebound(['apply', '-f', root, '--dry-run', ...withAdmin()]);
    expect(dry.code).toBe(0);
    expect(dry.stdout).toMatch(/^created {3}Source shop-web {2}\(.*source\.yaml:1\)$/m);
    expect(dry.stdout).toContain('4 created, 0 changed, 0 unchanged, 0 deleted (dry run: nothing was changed)');
    expect((await admin.call('GET', '/admin/triggers')).body.items).toEqual([]);
    const applied = await rebound(['apply', '-f', root, ...withAdmin()]);
    expect(applied.code).toBe(0);
    expect(applied.stdout.trim().split('\n').at(-1)).toBe('4 created, 0 changed, 0 unchanged, 0 deleted');
    expect((await admin.call('GET', '/admin/templates/cart-email')).body.html).toContain('your cart');
    const again = await rebound(['apply', '-f', root, ...withAdmin()]);
    expect(again.stdout).toMatch(/^unchanged Trigger browse/m);
    expect(again.stdout.trim().split('\n').at(-1)).toBe('0 created, 0 changed, 4 unchanged, 0 deleted');
  });

  it('--prune deletes what the folder no longer has; the token can come from REBOUND_ADMIN_TOKEN', async () => {
    const root = folder({ 'source.yaml': sourceYaml(), 'triggers.yaml': triggerYaml('cart', '15m'), 'template.yaml': templateYaml, 'templates/cart.html.hbs': '<p>cart</p>\n' });
    const result = await rebound(['apply', '-f', root, '--prune', '--admin-url', admin.url], { REBOUND_ADMIN_TOKEN: adminToken });
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^changed {3}Trigger cart/m);
    expect(result.stdout).toMatch(/^deleted {3}Trigger browse$/m);
    expect((await admin.call('GET', '/admin/triggers')).body.items.map((t: { id: string }) => t.id)).toEqual(['cart']);
  });

  it('exits 2 with a clear message when the admin API cannot be reached or refuses the token', async () => {
    const root = shop();
    const down = await rebound(['apply', '-f', root, '--admin-url', 'http://127.0.0.1:1', '--token', adminToken]);
    expect(down.code).toBe(2);
    expect(down.stderr).toContain('ADMIN_UNREACHABLE: cannot reach the admin API at http://127.0.0.1:1/admin/apply');
    const wrong = await rebound(['apply', '-f', root, ...withAdmin().slice(0, 2), '--token', 'wrong-token-0123456789']);
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toContain('ADMIN_UNAUTHORIZED');
  });
});

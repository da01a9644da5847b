// config/prometheus as Prometheus itself reads it: the scrape configuration and the alert rules
// are valid (promtool check), and the rules' unit test (alerts-test.yml: the budget burn-rate,
// lag, dead-letter, failure, timer, role and Redis alerts on synthetic series) passes.
// promtool comes with the Debian package `prometheus` (.ci/run installs it when missing).
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { promtool } from './helpers.js';

const dir = resolve(import.meta.dirname, '../../config/prometheus');

describe('config/prometheus', () => {
  it('prometheus.yml is a valid configuration that loads alerts.yml', async () => {
    const result = await promtool(dir, 'check', 'config', 'prometheus.yml');
    expect(result.output).toContain('SUCCESS: 1 rule files found');
    expect(result.code, result.output).toBe(0);
  });

  it('alerts.yml holds valid rules, among them every alert SPEC §9 and the issue ask for', async () => {
    const result = await promtool(dir, 'check', 'rules', 'alerts.yml');
    expect(result.code, result.output).toBe(0);
    const text = readFileSync(resolve(dir, 'alerts.yml'), 'utf8');
    for (const alert of ['ReboundBudgetBurnFast', 'ReboundBudgetBurnSlow', 'ReboundLagGrowing', 'ReboundDeadLetters', 'ReboundMessagesFailed', 'ReboundTimerLag', 'ReboundRoleDown', 'ReboundRedisDown']) {
      expect(text).toContain(`alert: ${alert}\n`);
    }
  });

  it('the rule unit test passes: the budget alert fires on a 10 % over-budget event and not on a healthy one', async () => {
    const result = await promtool(dir, 'test', 'rules', 'alerts-test.yml');
    expect(result.output).toContain('SUCCESS');
    expect(result.code, result.output).toBe(0);
  });
});

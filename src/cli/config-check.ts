/** `relais config check`: validates the configuration (file + RELAIS_* variables, providers and classification files) and prints it. */
import type { Command } from 'commander';
import { loadClassification } from '../../config/classification.js';
import { checkWarmupProviders, loadProviders } from '../../config/providers.js';
import { configFrom, fail, withConfig } from './common.js';

export function registerConfigCheck(program: Command): void {
  const cfg = program.command('config').description('configuration tools');
  withConfig(cfg.command('check').description('validate the configuration and print the effective values (secrets hidden)')).action((opts: { config?: string }) => {
    try {
      const c = configFrom(opts);
      // The data files are part of the configuration: a bad rule fails here, not at start.
      checkWarmupProviders(c.delivery.pools, loadProviders(c.delivery.providers_file));
      loadClassification(c.stats.classification_file);
      const shown = JSON.parse(JSON.stringify(c, (k, v) => (/password|token|master_key|secret/.test(k) && v ? '[secret]' : v)));
      process.stdout.write(`${JSON.stringify(shown, null, 2)}\nconfiguration OK\n`);
    } catch (err) {
      fail(err);
    }
  });
}

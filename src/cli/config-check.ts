/** `relais config check`: validates the configuration (file + RELAIS_* variables) and prints it. */
import type { Command } from 'commander';
import { configFrom, fail, withConfig } from './common.js';

export function registerConfigCheck(program: Command): void {
  const cfg = program.command('config').description('configuration tools');
  withConfig(cfg.command('check').description('validate the configuration and print the effective values (secrets hidden)')).action((opts: { config?: string }) => {
    try {
      const c = configFrom(opts);
      const shown = JSON.parse(JSON.stringify(c, (k, v) => (/password|token|master_key|secret/.test(k) && v ? '[secret]' : v)));
      process.stdout.write(`${JSON.stringify(shown, null, 2)}\nconfiguration OK\n`);
    } catch (err) {
      fail(err);
    }
  });
}

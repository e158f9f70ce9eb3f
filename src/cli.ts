#!/usr/bin/env node
/** The `relais` command. Every sub-command accepts --config FILE and the RELAIS_* variables. */
import { Command } from 'commander';
import { registerConfigCheck } from './cli/config-check.js';
import { registerHashPassword } from './cli/hash-password.js';
import { registerStart } from './cli/start.js';

const program = new Command('relais').description('Relais — passerelle de courrier sortant / outbound mail gateway').version('0.1.0');
registerStart(program);
registerHashPassword(program);
registerConfigCheck(program);
program.parseAsync(process.argv).catch((err: unknown) => {
  process.stderr.write(`relais: ${(err as Error).message}\n`);
  process.exit(1);
});

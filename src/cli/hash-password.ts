/** `relais hash-password`: reads a password on stdin, prints the "$scrypt$..." hash for the YAML file. */
import type { Command } from 'commander';
import { hashPassword } from '../clients/password.js';
import { fail, readStdin, withConfig } from './common.js';

export function registerHashPassword(program: Command): void {
  withConfig(program.command('hash-password').description('hash a client password read from stdin (for clients[].password_hash)')).action(async () => {
    try {
      const password = (await readStdin()).replace(/\r?\n$/, '');
      if (!password) throw new Error('empty password on stdin');
      process.stdout.write(`${await hashPassword(password)}\n`);
    } catch (err) {
      fail(err);
    }
  });
}

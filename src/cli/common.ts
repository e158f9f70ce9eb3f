/** Shared by every `relais` sub-command: the same --config FILE and RELAIS_* variables as start. */
import { Command } from 'commander';
import { loadConfig, type RelaisConfig } from '../config/config.js';
import { ConfigError } from '../../config/validate.js';

export function withConfig(cmd: Command): Command {
  return cmd.option('-c, --config <file>', 'YAML configuration file (RELAIS_CONFIG)', process.env.RELAIS_CONFIG);
}

export function configFrom(opts: { config?: string }): RelaisConfig {
  return loadConfig({ file: opts.config });
}

/** Exit code of `relais domain check` when a finding fails (1 stays "the command itself failed"). */
export const EXIT_FINDINGS_FAIL = 2;

/** Errors are one clear line and a non-zero exit. */
export function fail(err: unknown): never {
  const msg = err instanceof ConfigError ? `configuration error: ${err.message}` : err instanceof Error ? err.message : String(err);
  process.stderr.write(`relais: ${msg.replace(/\s*\n\s*/g, ' ')}\n`);
  process.exit(err instanceof ConfigError ? 78 : 1);
}

export async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** Options every admin command accepts (besides its own). */
export interface AdminOptions {
  config?: string;
  json?: boolean;
  verbose?: boolean;
  api?: string;
  token?: string;
}

/** Adds --config, --json, --verbose, --api and --token to a command that talks to the admin API. */
export function adminCommand(cmd: Command): Command {
  return withConfig(cmd)
    .option('--json', 'print the raw JSON answer instead of a table')
    .option('-v, --verbose', 'log what the relay services do (stderr)')
    .option('--api <url>', 'admin API base URL of a running relay (RELAIS_API_URL); default: the relay running on the data dir, else work offline')
    .option('--token <token>', 'admin API token (RELAIS_API_TOKEN); default: a short-lived token minted in the store');
}

/** Repeatable option collector: --domain a --domain b → ['a', 'b']. */
export const collect = (v: string, prev: string[] = []): string[] => [...prev, v];

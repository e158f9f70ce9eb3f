/** Shared by every `relais` sub-command: the same --config FILE and RELAIS_* variables as start. */
import { Command } from 'commander';
import { loadConfig, type RelaisConfig } from '../config/config.js';
import { ConfigError } from '../config/parse.js';

export function withConfig(cmd: Command): Command {
  return cmd.option('-c, --config <file>', 'YAML configuration file (RELAIS_CONFIG)', process.env.RELAIS_CONFIG);
}

export function configFrom(opts: { config?: string }): RelaisConfig {
  return loadConfig({ file: opts.config });
}

/** Errors are one clear line and a non-zero exit. */
export function fail(err: unknown): never {
  const msg = err instanceof Error && err.name === 'ConfigError' ? `configuration error: ${err.message}` : err instanceof Error ? err.message : String(err);
  process.stderr.write(`relais: ${msg}\n`);
  process.exit(err instanceof Error && err.name === 'ConfigError' ? 78 : 1);
}

export async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

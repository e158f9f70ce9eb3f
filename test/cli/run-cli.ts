/** Runs the built `relais` CLI (dist/src/cli.js) as an operator would: a child process, env only. */
import { execFile } from 'node:child_process';
import { CLI } from '../helpers/relay-process.js';

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** The test process's environment without any RELAIS_* variable, plus `env`. */
export function cliEnv(env: Record<string, string>): Record<string, string> {
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('RELAIS_'))) as Record<string, string>;
  return { ...base, RELAIS_SMTP_LISTEN: '127.0.0.1:0', RELAIS_API_LISTEN: '127.0.0.1:0', ...env };
}

export function relais(args: string[], env: Record<string, string>, input?: string): Promise<CliResult> {
  return new Promise((resolve) => {
    const child = execFile(process.execPath, [CLI, ...args], { env: cliEnv(env), timeout: 30_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : 1) : 0;
      resolve({ code, stdout, stderr });
    });
    if (input !== undefined) child.stdin!.end(input);
    else child.stdin!.end();
  });
}

/** Runs and expects success; the error names the command and shows its stderr. */
export async function ok(args: string[], env: Record<string, string>): Promise<string> {
  const r = await relais(args, env);
  if (r.code !== 0) throw new Error(`relais ${args.join(' ')} exited ${r.code}: ${r.stderr}${r.stdout}`);
  return r.stdout;
}

export async function okJson<T = any>(args: string[], env: Record<string, string>): Promise<T> {
  return JSON.parse(await ok([...args, '--json'], env)) as T;
}

/** Errors are one line, "relais: ...", with a non-zero exit. */
export function expectOneLineError(r: CliResult): string {
  if (r.code === 0) throw new Error(`expected a failure, got exit 0: ${r.stdout}`);
  const lines = r.stderr.split('\n').filter(Boolean);
  if (lines.length !== 1 || !lines[0]!.startsWith('relais: ')) throw new Error(`expected one "relais: " line on stderr, got: ${JSON.stringify(r.stderr)}`);
  return lines[0]!;
}

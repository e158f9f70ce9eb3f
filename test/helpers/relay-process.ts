/**
 * Starts the built relay (dist/src/cli.js) as a real child process, configured only through
 * RELAIS_* variables and an optional YAML file, exactly as an operator would. Ports are chosen
 * by the OS (listen on :0) and read back from the "relais started" log line.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export const CLI = resolve(import.meta.dirname, '../../dist/src/cli.js');

export interface RelayProcess {
  child: ChildProcess;
  dataDir: string;
  smtpPort: number;
  smtpPorts: number[];
  apiPort?: number;
  logs: string[];
  /** Log lines parsed as JSON. */
  events(): Array<Record<string, unknown>>;
  waitForLog(pred: (e: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  kill9(): Promise<void>;
}

export function tempDir(prefix = 'relais-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export function writeYaml(dir: string, text: string): string {
  const file = join(dir, 'relais.yaml');
  writeFileSync(file, text);
  return file;
}

export async function startRelay(opts: { env?: Record<string, string>; configFile?: string; dataDir?: string; args?: string[] } = {}): Promise<RelayProcess> {
  const dataDir = opts.dataDir ?? join(tempDir(), 'data');
  const env: Record<string, string> = {
    ...(process.env as Record<string, string>),
    RELAIS_DATA_DIR: dataDir,
    RELAIS_SMTP_LISTEN: '127.0.0.1:0',
    RELAIS_API_LISTEN: '127.0.0.1:0',
    RELAIS_LOG_LEVEL: 'info',
    ...opts.env,
  };
  const args = [CLI, 'start', ...(opts.configFile ? ['--config', opts.configFile] : []), ...(opts.args ?? [])];
  const child = spawn(process.execPath, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const logs: string[] = [];
  let partial = '';
  const listeners: Array<() => void> = [];
  const onData = (d: Buffer) => {
    partial += d.toString('utf8');
    const lines = partial.split('\n');
    partial = lines.pop()!;
    logs.push(...lines.filter(Boolean));
    listeners.forEach((l) => l());
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  let exitCode: number | null | undefined;
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => {
    exitCode = code;
    listeners.forEach((l) => l());
    r(code);
  }));

  const events = () =>
    logs.flatMap((l) => {
      try {
        return [JSON.parse(l) as Record<string, unknown>];
      } catch {
        return [];
      }
    });
  const waitForLog = (pred: (e: Record<string, unknown>) => boolean, timeoutMs = 20_000) =>
    new Promise<Record<string, unknown>>((resolve, reject) => {
      const check = () => {
        const hit = events().find(pred);
        if (hit) {
          cleanup();
          resolve(hit);
        } else if (exitCode !== undefined) {
          cleanup();
          reject(new Error(`relay exited (${exitCode}) before the expected log line:\n${logs.join('\n')}`));
        }
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`timeout waiting for log line; logs:\n${logs.join('\n')}`));
      }, timeoutMs);
      const cleanup = () => {
        clearTimeout(timer);
        const i = listeners.indexOf(check);
        if (i >= 0) listeners.splice(i, 1);
      };
      listeners.push(check);
      check();
    });

  const started = await waitForLog((e) => e.msg === 'relais started');
  const smtp = started.smtp as Array<{ port: number }>;
  return {
    child,
    dataDir,
    smtpPort: smtp[0]!.port,
    smtpPorts: smtp.map((s) => s.port),
    apiPort: (started.api as { port?: number } | undefined)?.port,
    logs,
    events,
    waitForLog,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (exitCode !== undefined) return exitCode;
      child.kill(signal);
      return exited;
    },
    async kill9() {
      if (exitCode !== undefined) return;
      child.kill('SIGKILL');
      await exited;
    },
  };
}

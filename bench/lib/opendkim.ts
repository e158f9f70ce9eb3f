/**
 * Debian's OpenDKIM as a milter for the Postfix comparison: a private instance on a loopback
 * port with an RSA-2048 key, signing mail from one domain (the setup a Postfix site adds to get
 * what Relais does itself).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './postfix.js';
import { killOnExit } from './relay.js';

export const OPENDKIM = '/usr/sbin/opendkim';
const GENKEY = '/usr/sbin/opendkim-genkey';

export function opendkimUnavailable(): string | undefined {
  if (!existsSync(OPENDKIM) || !existsSync(GENKEY)) return 'OpenDKIM missing (Debian packages "opendkim opendkim-tools")';
  return undefined;
}

export interface OpenDkim {
  /** Postfix `smtpd_milters` value. */
  milter: string;
  stop(): Promise<void>;
}

export async function startOpenDkim(domain: string, selector = 'bench'): Promise<OpenDkim> {
  const root = mkdtempSync(join(tmpdir(), 'relais-bench-opendkim-'));
  chmodSync(root, 0o755);
  execFileSync(GENKEY, ['-b', '2048', '-d', domain, '-s', selector, '-D', root]);
  const port = await freePort();
  const conf = join(root, 'opendkim.conf');
  writeFileSync(conf, [
    'Syslog no',
    'Background no',
    `Socket inet:${port}@127.0.0.1`,
    `Domain ${domain}`,
    `Selector ${selector}`,
    `KeyFile ${join(root, `${selector}.private`)}`,
    'Canonicalization relaxed/relaxed',
    'Mode s',
    'InternalHosts 127.0.0.0/8',
    'RequireSafeKeys no',
    `PidFile ${join(root, 'opendkim.pid')}`,
    '',
  ].join('\n'));
  const child: ChildProcess = spawn(OPENDKIM, ['-f', '-x', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
  killOnExit(child);
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  // Wait until the milter port answers.
  const { connect } = await import('node:net');
  for (let i = 0; ; i++) {
    const ok = await new Promise<boolean>((r) => {
      const s = connect(port, '127.0.0.1');
      s.once('connect', () => (s.destroy(), r(true)));
      s.once('error', () => r(false));
    });
    if (ok) break;
    if (child.exitCode !== null || i > 100) throw new Error(`opendkim did not start: ${err}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    milter: `inet:127.0.0.1:${port}`,
    async stop() {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        await new Promise((r) => child.once('exit', r));
      }
      rmSync(root, { recursive: true, force: true });
    },
  };
}

/**
 * The certificate offered with STARTTLS: the configured one, or a self-signed one generated on
 * first start with openssl and kept in <data_dir>/tls (0600), so restarts keep the same key.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface TlsMaterial {
  key: Buffer;
  cert: Buffer;
  selfSigned: boolean;
}

export async function loadTlsMaterial(opts: { cert?: string; key?: string; dataDir: string; hostname: string }): Promise<TlsMaterial> {
  if (opts.cert && opts.key) {
    return { cert: await readFile(opts.cert), key: await readFile(opts.key), selfSigned: false };
  }
  const dir = join(opts.dataDir, 'tls');
  const certPath = join(dir, 'selfsigned.crt');
  const keyPath = join(dir, 'selfsigned.key');
  if (!existsSync(certPath) || !existsSync(keyPath)) {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const cn = opts.hostname.replace(/[^A-Za-z0-9.-]/g, '') || 'relais';
    await run('openssl', [
      'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-sha256', '-days', '3650',
      '-keyout', keyPath, '-out', certPath, '-subj', `/CN=${cn}`, '-addext', `subjectAltName=DNS:${cn}`,
    ], { umask: 0o077 } as never);
  }
  return { cert: await readFile(certPath), key: await readFile(keyPath), selfSigned: true };
}

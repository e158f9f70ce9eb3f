/**
 * Test helpers: keys published on the test DNS server, Relais signing of a whole message, and two
 * independent verifiers (mailauth's dkimVerify with a resolver pointed at the test DNS server, and
 * python3-dkim querying the same server through dnspython).
 */
import { spawn } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { Resolver } from 'node:dns/promises';
import { createReadStream } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Readable } from 'node:stream';
import { dkimVerify } from 'mailauth';
import { DkimBodyHasher } from '../../../relay/dkim/body-hasher.js';
import { signMessage, type DkimKey } from '../../../relay/dkim/sign.js';
import type { TestDnsServer } from '../../helpers/dns-server.js';

const PY_SCRIPT = fileURLToPath(new URL('./dkimverify.py', import.meta.url));

export interface TestKey {
  key: DkimKey;
  /** TXT value to publish at selector._domainkey.domain */
  txt: string;
}

export function rsaKey(domain: string, selector: string, bits = 2048): TestKey {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: bits });
  const p = (publicKey.export({ type: 'spki', format: 'der' }) as Buffer).toString('base64');
  return { key: { domain, selector, algo: 'rsa', privateKey }, txt: `v=DKIM1; k=rsa; p=${p}` };
}

export function ed25519Key(domain: string, selector: string): TestKey {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const p = Buffer.from(publicKey.export({ format: 'jwk' }).x as string, 'base64url').toString('base64');
  return { key: { domain, selector, algo: 'ed25519', privateKey }, txt: `v=DKIM1; k=ed25519; p=${p}` };
}

export function publish(dns: TestDnsServer, k: TestKey): void {
  dns.zones[`${k.key.selector}._domainkey.${k.key.domain}`.toLowerCase()] = { TXT: [k.txt] };
}

/** Signs with Relais (hasher + signMessage) and returns signatures + message. */
export async function relaisSign(message: Buffer, keys: DkimKey[], chunkSize = 0): Promise<Buffer> {
  const hasher = new DkimBodyHasher({ passthrough: false });
  if (chunkSize > 0) for (let i = 0; i < message.length; i += chunkSize) hasher.update(message.subarray(i, i + chunkSize));
  else hasher.update(message);
  const r = hasher.result();
  if (!r.headerBlock) throw new Error('header overflow');
  const lines = await signMessage({ headerBlock: r.headerBlock, bodyHashes: r.bodyHashes, keys, now: Date.now() });
  return Buffer.concat([Buffer.from(lines.join(''), 'latin1'), message]);
}

export function resolverFor(dns: TestDnsServer) {
  const resolver = new Resolver({ timeout: 2000, tries: 1 });
  resolver.setServers([dns.server]);
  return (name: string, type: string) => resolver.resolve(name, type) as Promise<any>;
}

export interface VerifyOutcome {
  d: string | null;
  s: string | null;
  ok: boolean;
  error: string | null;
}

/** mailauth's verdict for every signature, top to bottom. */
export async function mailauthVerify(message: Buffer | string, dns: TestDnsServer): Promise<VerifyOutcome[]> {
  const input = typeof message === 'string' ? createReadStream(message) : message;
  const res = await dkimVerify(input, { resolver: resolverFor(dns) });
  return res.results.map((r: any) => ({
    d: r.signingDomain ?? null,
    s: r.selector ?? null,
    ok: r.status?.result === 'pass',
    error: r.status?.result === 'pass' ? null : `${r.status?.result}: ${r.status?.comment ?? r.info}`,
  }));
}

/** python3-dkim's verdict for every signature (message as bytes, or a file path to stream in). */
export function pythonVerify(message: Buffer | string, dns: TestDnsServer): Promise<VerifyOutcome[]> {
  return new Promise((resolve, reject) => {
    const child = spawn('/usr/bin/python3', [PY_SCRIPT, dns.host, String(dns.port)], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) return reject(new Error(`dkimverify.py exited ${code}: ${err}`));
      resolve(JSON.parse(out));
    });
    child.stdin.on('error', () => undefined); // python may exit early on bad input; the exit code tells
    if (typeof message === 'string') createReadStream(message).pipe(child.stdin);
    else Readable.from([message]).pipe(child.stdin);
  });
}

/** A message from header lines and a body (Buffers or latin1 strings), CRLF-joined. */
export function msg(headers: Array<string | Buffer>, body: string | Buffer): Buffer {
  const parts: Buffer[] = [];
  for (const h of headers) parts.push(typeof h === 'string' ? Buffer.from(h, 'utf8') : h, Buffer.from('\r\n'));
  parts.push(Buffer.from('\r\n'), typeof body === 'string' ? Buffer.from(body, 'utf8') : body);
  return Buffer.concat(parts);
}

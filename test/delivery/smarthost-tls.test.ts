/**
 * The smarthost's certificate, through the configuration as operators write it (loadConfig →
 * deliveryOptions): `starttls` and `implicit` verify it against the system CAs plus
 * delivery.smarthost_ca_file; a failed check defers the mail with the reason in the attempt
 * history (the credentials are never sent to an unverified host). `opportunistic` stays unverified.
 * The smarthost is a real smtp-server with a self-signed certificate for 127.0.0.1.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createDelivery } from '../../relay/delivery/index.js';
import { loadConfig } from '../../src/config/config.js';
import { deliveryOptions } from '../../src/wiring/delivery.js';
import { enqueue, freePort, log, openSpool, startMx, type TestMx, waitFor } from './helpers.js';

let dir: string;
let certFile: string;
let cert: Buffer;
let key: Buffer;
const auths: string[] = [];
const servers: TestMx[] = [];

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'relais-smarthost-tls-'));
  certFile = join(dir, 'smarthost.pem');
  const keyFile = join(dir, 'smarthost.key');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-sha256', '-days', '2', '-keyout', keyFile, '-out', certFile, '-subj', '/CN=smarthost.test', '-addext', 'subjectAltName=DNS:smarthost.test,IP:127.0.0.1'], { stdio: 'ignore' });
  cert = readFileSync(certFile);
  key = readFileSync(keyFile);
});

afterAll(async () => {
  await Promise.all(servers.map((s) => s.close()));
  rmSync(dir, { recursive: true, force: true });
});

async function smarthost(implicit: boolean): Promise<TestMx> {
  const mx = await startMx('127.0.0.1', await freePort(), {
    key,
    cert,
    secure: implicit,
    disabledCommands: [],
    authOptional: true,
    authMethods: ['PLAIN', 'LOGIN'],
    onAuth(auth, _session, cb) {
      auths.push(auth.username ?? '');
      cb(null, { user: auth.username });
    },
  });
  servers.push(mx);
  return mx;
}

/** One message through the smarthost as configured; resolves with its envelope once attempted. */
async function send(mx: TestMx, tls: string, caFile?: string) {
  const config = loadConfig({
    env: {
      RELAIS_SMARTHOST: `127.0.0.1:${mx.port}`,
      RELAIS_SMARTHOST_TLS: tls,
      RELAIS_SMARTHOST_USER: 'relais',
      RELAIS_SMARTHOST_PASSWORD: 'secret',
      RELAIS_DATA_DIR: dir,
      RELAIS_HOSTNAME: 'relais.test',
      ...(caFile ? { RELAIS_SMARTHOST_CA_FILE: caFile } : {}),
    },
  });
  const ts = await openSpool();
  const delivery = createDelivery({ spool: ts.spool, log, options: deliveryOptions(config) });
  delivery.start();
  const env = await enqueue(ts.spool, { from: 'a@laruche.example', to: ['b@example.org'] });
  // Delivered: removed from the spool (its attempt is recorded just before); else deferred.
  const after = await waitFor(() => {
    const e = ts.spool.get(env.id);
    if (e === undefined) return { delivered: true, attempts: [] };
    const last = e.attempts.at(-1);
    return last && last.outcome !== 'delivered' ? { delivered: false, attempts: e.attempts } : null;
  }, 'an attempt', 20_000);
  await delivery.stop();
  await ts.cleanup();
  return after;
}

describe('smarthost TLS', () => {
  for (const [mode, implicit] of [['starttls', false], ['implicit', true]] as const) {
    test(`${mode}: a self-signed certificate is refused without CA file (deferred, reason recorded), accepted with it`, async () => {
      const mx = await smarthost(implicit);
      const before = auths.length;
      const refused = await send(mx, mode);
      expect(refused.delivered).toBe(false);
      expect(refused.attempts[0]).toMatchObject({ outcome: 'deferred', reply: { code: 451, enhanced: '4.7.5' } });
      expect(refused.attempts[0]!.reply.text).toMatch(/TLS certificate not verified: self-signed certificate/);
      expect(mx.received).toHaveLength(0);
      expect(auths.length).toBe(before);

      const accepted = await send(mx, mode, certFile);
      expect(accepted.delivered).toBe(true);
      expect(mx.received).toHaveLength(1);
      expect(mx.received[0]!.secure).toBe(true);
      expect(auths.length).toBe(before + 1);
    });
  }

  test('opportunistic stays unverified: the self-signed smarthost gets the mail over TLS', async () => {
    const mx = await smarthost(false);
    const r = await send(mx, 'opportunistic');
    expect(r.delivered).toBe(true);
    expect(mx.received[0]!.secure).toBe(true);
  });

  test('a smarthost_ca_file without a certificate is refused at start, naming the key', () => {
    expect(() => loadConfig({ env: { RELAIS_SMARTHOST: '127.0.0.1:25', RELAIS_SMARTHOST_CA_FILE: join(dir, 'absent.pem') } })).toThrow(/delivery\.smarthost_ca_file: cannot read/);
  });
});

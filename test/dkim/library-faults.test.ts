/**
 * Why Relais has its own DKIM canonicalisation: the npm signers get byte-level cases wrong.
 * Each case signs the same message with a library and with Relais, and lets an independent
 * verifier (python3-dkim, public key fetched by a real DNS query to the test DNS server) judge.
 * The library verdicts asserted here are the ones observed with dkim-signer 0.2.2 and mailauth 4.13.
 */
import { createRequire } from 'node:module';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dkimSign, type DKIMSignOptions } from 'mailauth';
import { startDnsServer, type TestDnsServer } from '../helpers/dns-server.js';
import { mailauthVerify, msg, publish, pythonVerify, relaisSign, rsaKey, type TestKey } from './helpers/verify.js';

const require = createRequire(import.meta.url);
const { DKIMSign } = require('dkim-signer') as {
  DKIMSign: (email: Buffer | string, o: { domainName: string; keySelector: string; privateKey: string }) => string;
};

const HEADERS = [
  'From: Alice <alice@example.org>',
  'To: bob@example.net',
  'Subject: Bonjour',
  'Date: Thu, 26 Nov 2026 10:00:00 +0100',
  'Message-ID: <m1@example.org>',
  'MIME-Version: 1.0',
  'Content-Type: text/plain; charset=utf-8',
  'Content-Transfer-Encoding: 8bit',
];
const withSubject = (subject: string) => HEADERS.map((h) => (h.startsWith('Subject:') ? `Subject: ${subject}` : h));

let dns: TestDnsServer;
let k: TestKey;
let pem: string;

beforeAll(async () => {
  dns = await startDnsServer({});
  k = rsaKey('example.org', 'lib');
  publish(dns, k);
  pem = (k.key.privateKey as import('node:crypto').KeyObject).export({ type: 'pkcs8', format: 'pem' }) as string;
});
afterAll(async () => dns.close());

function signDkimSigner(m: Buffer): Buffer {
  const header = DKIMSign(m, { domainName: 'example.org', keySelector: 'lib', privateKey: pem });
  return Buffer.concat([Buffer.from(header + '\r\n', 'utf8'), m]);
}

async function signMailauth(m: Buffer): Promise<Buffer> {
  // mailauth 4.13 ignores top-level signing options (returns no signature, no error): signatureData is required.
  const opts = { signatureData: [{ signingDomain: 'example.org', selector: 'lib', privateKey: pem, canonicalization: 'relaxed/relaxed' }] };
  const res = await dkimSign(m, opts as unknown as DKIMSignOptions);
  expect(res.errors).toEqual([]);
  return Buffer.concat([Buffer.from(res.signatures, 'binary'), m]);
}

async function py(m: Buffer): Promise<{ ok: boolean; error: string | null }> {
  const [r] = await pythonVerify(m, dns);
  return r;
}

describe('dkim-signer 0.2.2 (checked with python3-dkim)', () => {
  it('control: plain ASCII message verifies', async () => {
    const m = msg(HEADERS, 'Hello\r\n');
    expect((await py(signDkimSigner(m))).ok).toBe(true);
  });

  it('empty body: hashes the headers as the body (body hash mismatch); Relais verifies', async () => {
    const m = msg(HEADERS, '');
    const r = await py(signDkimSigner(m));
    expect(r.ok).toBe(false);
    expect(r.error).toMatch(/body hash mismatch/);
    expect((await py(await relaisSign(m, [k.key]))).ok).toBe(true);
  });

  it('8-bit UTF-8 body with a no-break space (C2 A0): JS \\s eats it (body hash mismatch); Relais verifies', async () => {
    const m = msg(HEADERS, 'Prix\u00a0: 10\u00a0€, à régler\r\n');
    const r = await py(signDkimSigner(m));
    expect(r.ok).toBe(false);
    expect(r.error).toMatch(/body hash mismatch/);
    expect((await py(await relaisSign(m, [k.key]))).ok).toBe(true);
  });

  it('8-bit UTF-8 body without U+00A0 ("café à la une"): dkim-signer is right here', async () => {
    // Observed: it decodes and re-encodes UTF-8 losslessly, and "à" is U+00E0 (not \s) once decoded.
    const m = msg(HEADERS, 'Café à la une, œuvre complète\r\n');
    expect((await py(signDkimSigner(m))).ok).toBe(true);
  });

  it('latin-1 body: bytes decoded as UTF-8 become U+FFFD (body hash mismatch); Relais verifies', async () => {
    const m = msg(
      HEADERS.map((h) => h.replace('utf-8', 'iso-8859-1')),
      Buffer.from('Caf\xe9 \xe0 la une, \xe9t\xe9 \xa0 fini\r\n', 'latin1'),
    );
    const r = await py(signDkimSigner(m));
    expect(r.ok).toBe(false);
    expect(r.error).toMatch(/body hash mismatch/);
    expect((await py(await relaisSign(m, [k.key]))).ok).toBe(true);
  });

  it('unencoded UTF-8 header with a no-break space: signature rejected; Relais verifies', async () => {
    const m = msg(withSubject('Prix\u00a0: 10\u00a0€'), 'Hello\r\n');
    expect((await py(signDkimSigner(m))).ok).toBe(false);
    expect((await py(await relaisSign(m, [k.key]))).ok).toBe(true);
  });
});

describe('mailauth 4.13 signer (checked with python3-dkim)', () => {
  it('control: plain ASCII and UTF-8 headers without byte 0xA0 verify', async () => {
    expect((await py(await signMailauth(msg(HEADERS, 'Hello\r\n')))).ok).toBe(true);
    expect((await py(await signMailauth(msg(withSubject('Café, été'), 'Hello\r\n')))).ok).toBe(true);
  });

  it('unencoded UTF-8 header with "à" (C3 A0): 0xA0 treated as whitespace, python3-dkim rejects; Relais verifies', async () => {
    const m = msg(withSubject('À voir : à la une'), 'Hello\r\n');
    const r = await py(await signMailauth(m));
    expect(r.ok).toBe(false);
    expect(r.error).toBeNull(); // header hash differs: plain "signature did not verify"
    expect((await py(await relaisSign(m, [k.key]))).ok).toBe(true);
  });

  it('unencoded UTF-8 header with a no-break space (C2 A0): python3-dkim rejects; Relais verifies', async () => {
    const m = msg(withSubject('Prix\u00a0: 10\u00a0€'), 'Hello\r\n');
    expect((await py(await signMailauth(m))).ok).toBe(false);
    expect((await py(await relaisSign(m, [k.key]))).ok).toBe(true);
  });

  it("mailauth's verifier shares the fault: accepts its own wrong signature, rejects Relais's correct one", async () => {
    const m = msg(withSubject('À voir : à la une'), 'Hello\r\n');
    const [theirs] = await mailauthVerify(await signMailauth(m), dns);
    const [ours] = await mailauthVerify(await relaisSign(m, [k.key]), dns);
    expect(theirs.ok).toBe(true);
    expect(ours.ok).toBe(false);
  });
});

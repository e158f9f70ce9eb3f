/**
 * DKIM end to end: keys generated through the admin API of the running relay, mail submitted
 * over SMTP, delivered to a collecting smarthost, and the delivered bytes verified by two
 * independent verifiers (mailauth and python3-dkim) against the test DNS server.
 */
import { createReadStream, createWriteStream, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { once } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDnsServer, type TestDnsServer } from '../helpers/dns-server.js';
import { transport } from '../helpers/mail.js';
import { startRelay, tempDir, writeYaml, type RelayProcess } from '../helpers/relay-process.js';
import { mailauthVerify, msg, publish, pythonVerify, relaisSign, rsaKey, type VerifyOutcome } from '../dkim/helpers/verify.js';
import { generateKeyViaApi, headerBlock, headerNames, signatures, startCollectingMx, submitRaw, type CollectingMx } from './helpers.js';

const TOKEN = 'e2e-dkim-admin-token-0123456789';
const OPERATOR = 'relais-op.example';

let dns: TestDnsServer;
let mx: CollectingMx;
let relay: RelayProcess;
let rcptN = 0;
const nextRcpt = () => `dest${++rcptN}@dest.example`;

beforeAll(async () => {
  dns = await startDnsServer({});
  mx = await startCollectingMx();
  const dir = tempDir('relais-e2e-dkim-');
  const yaml = writeYaml(dir, `
hostname: relais.test
tenants:
  - id: signes
    domains: [signed.example, unsigned.example]
  - id: strict
    domains: [strict.example]
    dkim_required: true
`);
  relay = await startRelay({
    configFile: yaml,
    dataDir: join(dir, 'data'),
    env: {
      RELAIS_HOSTNAME: 'relais.test',
      RELAIS_SMARTHOST: `127.0.0.1:${mx.port}`,
      RELAIS_SMARTHOST_TLS: 'none',
      RELAIS_ADMIN_TOKEN: TOKEN,
      RELAIS_DKIM_MASTER_KEY: 'e2e-master-key-not-for-production',
      RELAIS_OPERATOR_DOMAIN: OPERATOR,
    },
  });
  await generateKeyViaApi(relay.apiPort!, TOKEN, dns, 'signed.example', { selector: 'rsa1' });
});

afterAll(async () => {
  await relay?.stop();
  await mx?.close();
  await dns?.close();
});

const ok = (outcomes: VerifyOutcome[]) => outcomes.map((o) => ({ d: o.d, s: o.s, ok: o.ok, error: o.ok ? null : o.error }));

/** Both verifiers, on the delivered file; every signature must pass. */
async function expectAllPass(path: string, expected: Array<{ d: string; s: string }>): Promise<void> {
  const want = expected.map((e) => ({ ...e, ok: true, error: null }));
  expect(ok(await mailauthVerify(path, dns))).toEqual(want);
  expect(ok(await pythonVerify(path, dns))).toEqual(want);
}

async function deliver(from: string, message: Buffer, mailParams = ''): Promise<{ path: string; raw: Buffer }> {
  const to = nextRcpt();
  const r = await submitRaw(relay.smtpPort, from, [to], message, mailParams);
  expect(`${r.code} ${r.text}`).toMatch(/^250 /);
  const d = await mx.waitFor(to);
  return { path: d.path, raw: readFileSync(d.path) };
}

const plain = (from: string, body = 'Bonjour,\r\nceci est un test.\r\n') =>
  msg([`From: Alice <${from}>`, 'To: dest@dest.example', 'Subject: Test DKIM', `Message-ID: <${Math.random().toString(36).slice(2)}@test>`, 'Date: Thu, 26 Nov 2026 10:00:00 +0000'], body);

describe('DKIM signing of relayed mail', () => {
  it('signs plain ASCII mail; both verifiers pass', async () => {
    const { path, raw } = await deliver('alice@signed.example', plain('alice@signed.example'));
    const head = headerBlock(raw);
    expect(headerNames(head).slice(0, 2)).toEqual(['dkim-signature', 'received']);
    expect(headerNames(head).filter((n) => n === 'received')).toHaveLength(1); // once, not once per stream stage
    expect(signatures(head)).toEqual([{ d: 'signed.example', s: 'rsa1', a: 'rsa-sha256' }]);
    await expectAllPass(path, [{ d: 'signed.example', s: 'rsa1' }]);
  });

  const utf8 = (subject: string, id: string) =>
    msg(
      [
        'From: =?UTF-8?Q?Ren=C3=A9e?= <renee@signed.example>',
        'To: Zoé <zoe@dest.example>',
        `Subject: ${subject}`,
        `Message-ID: <${id}@signed.example>`,
        'Date: Thu, 26 Nov 2026 10:00:00 +0000',
        'MIME-Version: 1.0',
        'Content-Type: text/plain; charset=utf-8',
        'Content-Transfer-Encoding: 8bit',
      ],
      'Bonjour à tous,\r\nl’ordre du jour : « budget », prix\u00a0: 10\u00a0€ — 日本語 ✓\r\n\r\n  espaces   et\ttabulations  \r\n\r\n\r\n',
    );

  it('signs 8-bit UTF-8 headers and body unchanged', async () => {
    const subject = 'Réunion du 3 — café ☕, ordre du jour';
    const { path, raw } = await deliver('renee@signed.example', utf8(subject, 'utf8-1'), 'BODY=8BITMIME SMTPUTF8');
    expect(raw.includes(Buffer.from(`Subject: ${subject}\r\n`))).toBe(true);
    await expectAllPass(path, [{ d: 'signed.example', s: 'rsa1' }]);
  });

  it('signs a raw UTF-8 header holding "à" (bytes C3 A0) correctly: python3-dkim passes, mailauth 4.13 has a known fault', async () => {
    const { path } = await deliver('renee@signed.example', utf8('Réunion à 14h', 'utf8-2'), 'BODY=8BITMIME SMTPUTF8');
    expect(ok(await pythonVerify(path, dns))).toEqual([{ d: 'signed.example', s: 'rsa1', ok: true, error: null }]);
    // mailauth's relaxed header canonicalisation treats 0xA0 as whitespace (see test/dkim/library-faults.test.ts).
    expect(await mailauthVerify(path, dns)).toMatchObject([{ ok: false, error: expect.stringMatching(/bad signature/) }]);
  });

  it('adds its signature above an existing one; both verify; Relais signature and Received come first', async () => {
    const old = rsaKey('signed.example', 'mailcow');
    publish(dns, old);
    const signedBefore = await relaisSign(plain('bob@signed.example', 'Signé par Mailcow.\r\n'), [old.key]);
    const { path, raw } = await deliver('bob@signed.example', signedBefore);
    const head = headerBlock(raw);
    expect(headerNames(head).slice(0, 3)).toEqual(['dkim-signature', 'received', 'dkim-signature']);
    expect(signatures(head).map((s) => s.s)).toEqual(['rsa1', 'mailcow']);
    await expectAllPass(path, [{ d: 'signed.example', s: 'rsa1' }, { d: 'signed.example', s: 'mailcow' }]);
  });

  it('signs a 25 MiB message (streamed both ways)', async () => {
    const file = join(tempDir('relais-big-'), 'big.eml');
    const out = createWriteStream(file);
    out.write('From: big@signed.example\r\nTo: dest@dest.example\r\nSubject: gros message\r\nMessage-ID: <big@signed.example>\r\nDate: Thu, 26 Nov 2026 10:00:00 +0000\r\n\r\n');
    const lineBytes = Buffer.from('ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/0123456789ab\r\n');
    let written = 0;
    while (written < 25 * 1024 * 1024) {
      if (!out.write(lineBytes)) await once(out, 'drain');
      written += lineBytes.length;
    }
    out.end();
    await once(out, 'finish');
    const to = nextRcpt();
    // nodemailer streams the file (raw input is dot-stuffed on the fly).
    const info = await transport(relay.smtpPort, { ignoreTLS: true }).sendMail({ envelope: { from: 'big@signed.example', to: [to] }, raw: createReadStream(file) });
    expect(info.response).toMatch(/^250 /);
    const d = await mx.waitFor(to, 60_000);
    await expectAllPass(d.path, [{ d: 'signed.example', s: 'rsa1' }]);
  }, 120_000);

  it('a tampered body fails both verifiers', async () => {
    const { raw } = await deliver('alice@signed.example', plain('alice@signed.example', 'Virement de 10 euros.\r\n'));
    const tampered = Buffer.from(raw.toString('latin1').replace('10 euros', '99 euros'), 'latin1');
    for (const outcomes of [await mailauthVerify(tampered, dns), await pythonVerify(tampered, dns)]) {
      expect(outcomes).toHaveLength(1);
      expect(outcomes[0]!.ok).toBe(false);
    }
  });

  it('delivers mail of a domain without a key unsigned', async () => {
    const { raw } = await deliver('carol@unsigned.example', plain('carol@unsigned.example'));
    expect(signatures(headerBlock(raw))).toEqual([]);
    expect(headerNames(headerBlock(raw))[0]).toBe('received');
  });

  it('answers 451 4.7.5 at DATA for a tenant requiring DKIM without a key', async () => {
    const to = nextRcpt();
    const r = await submitRaw(relay.smtpPort, 'dan@strict.example', [to], plain('dan@strict.example'));
    expect(`${r.code} ${r.text}`).toMatch(/^451 4\.7\.5 Aucune clé DKIM pour strict\.example.* \/ No DKIM key for strict\.example/);
    // Once a key exists, the same mail goes through, signed.
    await generateKeyViaApi(relay.apiPort!, TOKEN, dns, 'strict.example', { selector: 'k1' });
    const { path } = await deliver('dan@strict.example', plain('dan@strict.example'));
    await expectAllPass(path, [{ d: 'strict.example', s: 'k1' }]);
  });

  it('adds an ed25519 signature next to the RSA one', async () => {
    const key = await generateKeyViaApi(relay.apiPort!, TOKEN, dns, 'signed.example', { selector: 'ed1', algo: 'ed25519' });
    expect(key.status).toBe('active');
    const { path, raw } = await deliver('alice@signed.example', plain('alice@signed.example'));
    const sigs = signatures(headerBlock(raw));
    expect(sigs.map((s) => `${s.s}:${s.a}`).sort()).toEqual(['ed1:ed25519-sha256', 'rsa1:rsa-sha256']);
    await expectAllPass(path, sigs.map((s) => ({ d: s.d, s: s.s })));
  });

  it('adds the operator domain signature (RELAIS_OPERATOR_DOMAIN), also to otherwise unsigned mail', async () => {
    await generateKeyViaApi(relay.apiPort!, TOKEN, dns, OPERATOR, { selector: 'op1' });
    const signed = await deliver('alice@signed.example', plain('alice@signed.example'));
    const sigs = signatures(headerBlock(signed.raw));
    expect(sigs.map((s) => `${s.d}/${s.s}`).sort()).toEqual([`${OPERATOR}/op1`, 'signed.example/ed1', 'signed.example/rsa1']);
    await expectAllPass(signed.path, sigs.map((s) => ({ d: s.d, s: s.s })));

    const other = await deliver('carol@unsigned.example', plain('carol@unsigned.example'));
    expect(signatures(headerBlock(other.raw))).toEqual([{ d: OPERATOR, s: 'op1', a: 'rsa-sha256' }]);
    await expectAllPass(other.path, [{ d: OPERATOR, s: 'op1' }]);
  });
});

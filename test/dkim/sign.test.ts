/**
 * Relais's signer checked by two independent verifiers: mailauth's dkimVerify and python3-dkim,
 * both fetching the public keys from the test DNS server.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signMessage } from '../../relay/dkim/sign.js';
import { DkimBodyHasher } from '../../relay/dkim/body-hasher.js';
import { startDnsServer, type TestDnsServer } from '../helpers/dns-server.js';
import {
  ed25519Key,
  mailauthVerify,
  msg,
  publish,
  pythonVerify,
  relaisSign,
  rsaKey,
  type TestKey,
  type VerifyOutcome,
} from './helpers/verify.js';

let dns: TestDnsServer;
let rsa: TestKey;
let ed: TestKey;
let other: TestKey; // the operator's exit-node domain
let upstream: TestKey; // a signature already in the message (e.g. Mailcow's)

beforeAll(async () => {
  dns = await startDnsServer({});
  rsa = rsaKey('asso.example', 'r1');
  ed = ed25519Key('asso.example', 'e1');
  other = rsaKey('relais.example.net', 'exit');
  upstream = rsaKey('mailcow.example', 'mc');
  for (const k of [rsa, ed, other, upstream]) publish(dns, k);
});
afterAll(async () => dns.close());

const HEADERS = [
  'From: Association <contact@asso.example>',
  'To: Bob <bob@example.net>',
  'Subject: Lettre du mois',
  'Date: Thu, 26 Nov 2026 10:00:00 +0100',
  'Message-ID: <abc@asso.example>',
  'MIME-Version: 1.0',
  'Content-Type: text/plain; charset=utf-8',
];

async function bothVerify(signed: Buffer): Promise<{ py: VerifyOutcome[]; ma: VerifyOutcome[] }> {
  const [py, ma] = await Promise.all([pythonVerify(signed, dns), mailauthVerify(signed, dns)]);
  return { py, ma };
}

async function expectBothPass(signed: Buffer, count = 1): Promise<void> {
  const { py, ma } = await bothVerify(signed);
  expect(py, 'python3-dkim').toHaveLength(count);
  expect(ma, 'mailauth').toHaveLength(count);
  for (const r of py) expect(r, 'python3-dkim').toMatchObject({ ok: true });
  for (const r of ma) expect(r, 'mailauth').toMatchObject({ ok: true });
}

describe('Relais signatures verify with mailauth and python3-dkim', () => {
  it('plain ASCII (rsa-sha256, relaxed/relaxed)', async () => {
    await expectBothPass(await relaisSign(msg(HEADERS, 'Hello,\r\n\r\nSee you.\r\n'), [rsa.key]));
  });

  it('8-bit UTF-8 headers and body, streamed in 7-byte chunks', async () => {
    const headers = HEADERS.map((h) => h.replace('Lettre du mois', 'Été : café, œuvres & naïveté')).concat(
      'Reply-To: Zoé <zoé@asso.example>',
    );
    const body = 'Bonjour à tous,\r\nPrix\u00a0: 10\u00a0€  \r\n\t\r\nÇa marche ✓\r\n\r\n\r\n';
    await expectBothPass(await relaisSign(msg(headers, body), [rsa.key], 7));
  });

  it('latin-1 body', async () => {
    const m = msg(
      HEADERS.map((h) => h.replace('utf-8', 'iso-8859-1')),
      Buffer.from('Caf\xe9 \xe0 la une,\xa0\xe9t\xe9 fini \r\n', 'latin1'),
    );
    await expectBothPass(await relaisSign(m, [rsa.key], 3));
  });

  it('long lines and runs of whitespace', async () => {
    const long = Array.from({ length: 2000 }, (_, i) => `mot${i}` + ' '.repeat(i % 4) + '\t'.repeat(i % 3)).join('');
    const m = msg([...HEADERS, 'X-Long: ' + 'x'.repeat(900), 'Cc: ' + Array.from({ length: 40 }, (_, i) => `p${i}@ex.org`).join(',\r\n ')], long + '\r\n' + long + '\r\n');
    await expectBothPass(await relaisSign(m, [rsa.key], 1000));
  });

  it('empty body', async () => {
    await expectBothPass(await relaisSign(msg(HEADERS, ''), [rsa.key]));
  });

  it('no blank line at all (header-only message): python3-dkim verifies; mailauth cannot parse it', async () => {
    const { py, ma } = await bothVerify(await relaisSign(Buffer.from(HEADERS.join('\r\n') + '\r\n'), [rsa.key]));
    expect(py).toMatchObject([{ ok: true }]);
    // Observed with mailauth 4.13: without the blank line it finds no header block, so "message not signed".
    expect(ma).toMatchObject([{ ok: false, error: expect.stringMatching(/^none: message not signed/) }]);
  });

  it('multipart with a binary attachment', async () => {
    const att = randomBytes(30_000).toString('base64').replace(/.{76}/g, '$&\r\n');
    const body = [
      '--b1',
      'Content-Type: text/plain; charset=utf-8',
      'Content-Transfer-Encoding: 8bit',
      '',
      'Voir la pièce jointe.',
      '--b1',
      'Content-Type: application/pdf; name="rapport.pdf"',
      'Content-Disposition: attachment; filename="rapport.pdf"',
      'Content-Transfer-Encoding: base64',
      '',
      att,
      '--b1--',
      '',
    ].join('\r\n');
    const headers = HEADERS.map((h) => (h.startsWith('Content-Type') ? 'Content-Type: multipart/mixed; boundary="b1"' : h));
    await expectBothPass(await relaisSign(msg(headers, body), [rsa.key], 4096));
  });

  it('message already signed by another key: both signatures verify', async () => {
    const original = await relaisSign(msg(HEADERS, 'Signed upstream.\r\n'), [upstream.key]);
    // Relais prepends its Received header, then signs with the author domain's key.
    const received = Buffer.from('Received: from mailcow.example (mailcow.example [192.0.2.1])\r\n\tby relais.example.net with ESMTPS id X1;\r\n\tThu, 26 Nov 2026 10:00:01 +0100\r\n');
    const spooled = Buffer.concat([received, original]);
    const signed = await relaisSign(spooled, [rsa.key]);
    expect(signed.subarray(signed.length - spooled.length).equals(spooled)).toBe(true); // existing bytes untouched
    const { py, ma } = await bothVerify(signed);
    expect(py.map((r) => [r.d, r.ok])).toEqual([['asso.example', true], ['mailcow.example', true]]);
    expect(ma.map((r) => [r.d, r.ok])).toEqual([['asso.example', true], ['mailcow.example', true]]);
  });

  it('ed25519-sha256 (RFC 8463), alone and with rsa and an operator-domain signature', async () => {
    const m = msg(HEADERS, 'Ed25519 test — été\r\n');
    await expectBothPass(await relaisSign(m, [ed.key]));
    const signed = await relaisSign(m, [rsa.key, ed.key, other.key]);
    await expectBothPass(signed, 3);
    const { py } = await bothVerify(signed);
    expect(py.map((r) => `${r.s}._domainkey.${r.d}`)).toEqual(['r1._domainkey.asso.example', 'e1._domainkey.asso.example', 'exit._domainkey.relais.example.net']);
  });

  it('simple/simple and relaxed/simple keys', async () => {
    const m = msg([...HEADERS, 'X-Spaces:   a  b  '], 'Simple  body \r\n\r\n\r\n');
    await expectBothPass(await relaisSign(m, [{ ...rsa.key, headerCanon: 'simple', bodyCanon: 'simple' }]));
    await expectBothPass(await relaisSign(m, [{ ...rsa.key, headerCanon: 'relaxed', bodyCanon: 'simple' }]));
  });

  it('headers with byte 0xA0 ("à", no-break space): python3-dkim (the reference) verifies', async () => {
    const headers = HEADERS.map((h) => (h.startsWith('Subject') ? 'Subject: À la une\u00a0: déjà là' : h));
    const [r] = await pythonVerify(await relaisSign(msg(headers, 'x\r\n'), [rsa.key, ed.key]), dns);
    expect(r).toMatchObject({ ok: true });
    const all = await pythonVerify(await relaisSign(msg(headers, 'x\r\n'), [rsa.key, ed.key]), dns);
    expect(all.map((x) => x.ok)).toEqual([true, true]);
  });
});

describe('what the signature protects', () => {
  const m = msg(HEADERS, 'Original body.\r\n');

  it('a tampered body fails both verifiers', async () => {
    const signed = await relaisSign(m, [rsa.key, ed.key]);
    const tampered = Buffer.from(signed.toString('latin1').replace('Original body.', 'Modified body.'), 'latin1');
    const { py, ma } = await bothVerify(tampered);
    expect(py.map((r) => r.ok)).toEqual([false, false]);
    expect(py[0].error).toMatch(/body hash mismatch/);
    expect(ma.map((r) => r.ok)).toEqual([false, false]);
  });

  it('a tampered Subject fails', async () => {
    const signed = await relaisSign(m, [rsa.key]);
    const tampered = Buffer.from(signed.toString('latin1').replace('Lettre du mois', 'Lettre du MOIS'), 'latin1');
    const { py, ma } = await bothVerify(tampered);
    expect(py[0].ok).toBe(false);
    expect(ma[0].ok).toBe(false);
  });

  it('From is over-signed: a second From added later breaks the signature', async () => {
    const signed = (await relaisSign(m, [rsa.key])).toString('latin1');
    expect(signed).toMatch(/h=from:from:/);
    const injected = Buffer.from(signed.replace('\r\n\r\n', '\r\nFrom: evil@attacker.example\r\n\r\n'), 'latin1');
    const { py, ma } = await bothVerify(injected);
    expect(py[0].ok).toBe(false);
    expect(ma[0].ok).toBe(false);
  });
});

describe('signMessage header selection', () => {
  const hashOf = (m: Buffer) => {
    const h = new DkimBodyHasher({ passthrough: false });
    h.update(m);
    return h.result();
  };

  it('lists present headers once per instance (bottom-up), never Received, never fields Relais added', async () => {
    const received = 'Received: by relais.example.net; Thu, 26 Nov 2026 10:00:01 +0100\r\nX-Relais: added\r\n';
    const m = Buffer.concat([
      Buffer.from(received),
      msg([...HEADERS, 'To: second@example.net', 'List-Unsubscribe: <https://x/u>', 'List-Unsubscribe-Post: List-Unsubscribe=One-Click', 'X-Relais: original'], 'b\r\n'),
    ]);
    const r = hashOf(m);
    const [line] = await signMessage({
      headerBlock: r.headerBlock!,
      bodyHashes: r.bodyHashes,
      keys: [rsa.key],
      addedHeaderBytes: Buffer.byteLength(received),
      headersToSign: ['from', 'to', 'subject', 'received', 'x-relais', 'list-unsubscribe', 'list-unsubscribe-post'],
      now: new Date('2026-11-26T09:00:00Z'),
    });
    const h = line.replace(/\r\n\t/g, '').match(/h=([^;]+);/)![1];
    expect(h.split(':')).toEqual(['from', 'from', 'to', 'to', 'subject', 'x-relais', 'list-unsubscribe', 'list-unsubscribe-post']);
    expect(line).toMatch(/t=1795683600;/);
    expect(line.endsWith('\r\n')).toBe(true);
    for (const l of line.split('\r\n')) expect(l.length).toBeLessThanOrEqual(78);
  });

  it('signs inline (a lone transaction) exactly as on the thread pool, for RSA and Ed25519 keys', async () => {
    const r = hashOf(msg(HEADERS, 'corps\r\n'));
    const input = { headerBlock: r.headerBlock!, bodyHashes: r.bodyHashes, keys: [rsa.key, ed.key], now: new Date('2026-12-07T12:00:00Z') };
    const pooled = await signMessage(input);
    expect(await signMessage(input, { inline: true })).toEqual(pooled);
    expect(pooled).toHaveLength(2);
  });

  it('refuses a key whose algorithm does not match', async () => {
    const r = hashOf(msg(HEADERS, 'b\r\n'));
    await expect(signMessage({ headerBlock: r.headerBlock!, bodyHashes: r.bodyHashes, keys: [{ ...ed.key, algo: 'rsa' }] })).rejects.toThrow(/algo rsa/);
  });
});

/**
 * The body fingerprint of the bulk "same content" signal: copies of one mailing get the same
 * fingerprint whatever the sending software varies per message (headers, MIME boundaries,
 * dates and numbers, line wrapping, case); different content gets a different one.
 */
import { describe, expect, it } from 'vitest';
import { BodyFingerprint, MIN_CONTENT } from '../../relay/intake/body-fingerprint.js';
import { HeaderReader } from '../../relay/intake/header-reader.js';

const TEXT = 'Bonjour à toutes et à tous,\r\nLa Ruche organise son assemblée générale le 12 mars à 18h.\r\nVenez nombreux !\r\n';

/** Streams `msg` through the header reader feeding a fingerprint, in chunks of `chunk` bytes. */
async function run(msg: string | Buffer, chunk = 1 << 20): Promise<{ fp: string | undefined; out: Buffer }> {
  const f = new BodyFingerprint();
  const reader = new HeaderReader(() => '', (c) => f.update(c));
  const parts: Buffer[] = [];
  const buf = Buffer.isBuffer(msg) ? msg : Buffer.from(msg, 'utf8');
  for (let i = 0; i < buf.length; i += chunk) reader.take(buf.subarray(i, i + chunk), parts);
  reader.end(parts);
  return { fp: f.result(), out: Buffer.concat(parts) };
}

/** The fingerprint as text, to compare with toBe. */
const fp = async (msg: string, chunk?: number) => {
  const p = (await run(msg, chunk)).fp;
  return p && `${p.h1}.${p.h2}.${p.length}`;
};

const plain = (id: string, body: string, to = 'a@dest.example') =>
  `From: ag@laruche.example\r\nTo: ${to}\r\nMessage-ID: <${id}@laruche.example>\r\nDate: Thu, 26 Nov 2026 14:0${id.length % 10}:00 +0000\r\nSubject: AG\r\n\r\n${body}`;

const multipart = (boundary: string, text: string, html: string) =>
  [
    'From: ag@laruche.example',
    'MIME-Version: 1.0',
    `Content-Type: multipart/alternative; boundary="${boundary}"`,
    '',
    'This is a multi-part message in MIME format.',
    `--${boundary}`,
    'Content-Type: text/plain; charset=utf-8',
    'Content-Transfer-Encoding: quoted-printable',
    '',
    text,
    `--${boundary}`,
    'Content-Type: text/html; charset=utf-8',
    '',
    html,
    `--${boundary}--`,
    '',
  ].join('\r\n');

describe('body fingerprint', () => {
  it('leaves the message as it is (the header reader passes every byte on)', async () => {
    const msg = multipart('b1', TEXT, '<p>Bonjour</p>');
    expect((await run(msg, 7)).out.toString('utf8')).toBe(msg);
  });

  it('is the same for copies that differ in headers, dates, numbers, wrapping and case', async () => {
    const a = await fp(plain('one', TEXT, 'alice@dest.example'));
    expect(a).toMatch(/^\d+\.\d+\.\d+$/);
    const p = (await run(plain('one', TEXT))).fp!;
    for (const h of [p.h1, p.h2]) expect(h >>> 0).toBe(h);
    expect(await fp(plain('two-longer-id', TEXT, 'bob@other.example'))).toBe(a);
    expect(await fp(plain('three', TEXT.replace('12 mars', '13 mars').replace('18h', '19h')))).toBe(a);
    expect(await fp(plain('four', TEXT.replace(/ /g, '\r\n ').replace(/[a-z]/g, (c) => c.toUpperCase())))).toBe(a);
  });

  it('is the same for MIME copies with random boundaries and quoted-printable soft breaks', async () => {
    const a = await fp(multipart('=_a1b2c3', TEXT, '<p>Bonjour à tous</p>'));
    expect(a).toBeDefined();
    expect(await fp(multipart('----=_Part_99_zz', TEXT, '<p>Bonjour à tous</p>'))).toBe(a);
    const softBreak = TEXT.replace('assemblée', 'assem=\r\nblée');
    expect(await fp(multipart('xyz-987', softBreak, '<p>Bonjour à tous</p>'))).toBe(a);
  });

  it('differs when the content differs, signature lines included', async () => {
    const a = await fp(plain('x', TEXT));
    expect(await fp(plain('x', TEXT.replace('Venez', 'Ne venez pas')))).not.toBe(a);
    expect(await fp(plain('x', `${TEXT}-- \r\nAlice, trésorière\r\n`))).not.toBe(await fp(plain('x', `${TEXT}-- \r\nBob, trésorier\r\n`)));
    const m = await fp(multipart('b', TEXT, '<p>Bonjour</p>'));
    expect(await fp(multipart('b', TEXT, '<p>Au revoir</p>'))).not.toBe(m);
  });

  it('gives the same result however the stream is chunked', async () => {
    // Line starts of every kind: "--" alone, "-x", "-- " (signature), empty lines, bare LF.
    const msg = multipart('=_chunky', `${TEXT}--\r\n-x\r\n\r\n-- \r\nAlice\n--\n\r\n`, '<p>Bonjour à tous</p>');
    const whole = await fp(msg);
    for (const size of [1, 2, 3, 4, 5, 7, 64]) expect(await fp(msg, size)).toBe(whole);
    expect(await fp(multipart('=_chunky', TEXT, '<p>Bonjour à tous</p>'))).not.toBe(whole);
    // Larger than the fingerprint's scan slice (16 KiB) in one chunk, with a boundary-like
    // line now and then.
    const big = plain('big', `${TEXT}-x\r\n`.repeat(400));
    const bigWhole = await fp(big);
    for (const size of [7, 4096, 16 * 1024 + 3]) expect(await fp(big, size)).toBe(bigWhole);
    expect(await fp(plain('big', `${TEXT}-y\r\n`.repeat(400)))).not.toBe(bigWhole);
  });

  it('gives none for bodies too short to tell apart (short replies are alike by nature)', async () => {
    expect(await fp(plain('s', 'Merci !\r\n'))).toBeUndefined();
    expect(await fp(plain('e', ''))).toBeUndefined();
    expect(await fp('Subject: headers only\r\n')).toBeUndefined();
    expect(await fp(plain('l', 'x'.repeat(MIN_CONTENT)))).toBeDefined();
  });
});

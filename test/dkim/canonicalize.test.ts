import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { DkimBodyHasher } from '../../relay/dkim/body-hasher.js';
import { canonicalizeBody, parseHeaderFields, relaxedHeader } from '../../relay/dkim/canonicalize.js';
import { createHash } from 'node:crypto';

const B = (s: string) => Buffer.from(s, 'latin1');
const sha = (b: Buffer) => createHash('sha256').update(b).digest('base64');

/** python3-dkim's canonicalisation of the same inputs: the reference. */
function reference(bodies: Buffer[], headers: Buffer[]) {
  const script = fileURLToPath(new URL('./helpers/canon.py', import.meta.url));
  const input = JSON.stringify({ bodies: bodies.map((b) => b.toString('base64')), headers: headers.map((h) => h.toString('base64')) });
  const out = JSON.parse(execFileSync('/usr/bin/python3', [script], { input, maxBuffer: 64 * 1024 * 1024 }).toString());
  const dec = (a: string[]) => a.map((x) => Buffer.from(x, 'base64'));
  return { relaxed: dec(out.relaxed), simple: dec(out.simple), headers: dec(out.headers) };
}

const BODIES = [
  '',
  '\r\n',
  '\r\n\r\n\r\n',
  'a',
  'a\r\n',
  'a\r\n\r\n\r\n',
  ' \t \r\n',
  'line  with \t spaces   \r\n\t\r\n  \r\nend\r\n\r\n',
  'bare\rcr\r\n',
  'bare\nlf\r\n',
  'ends with cr\r',
  'ws before bare cr \rx\r\n',
  '\xc3\xa0 la une\xc2\xa0!\xa0 \r\n', // UTF-8 "à", NBSP, and a latin-1 0xA0: not WSP
  'caf\xe9 \xe9t\xe9\r\n\r\n',
  '\x0b\x0c vertical tab and form feed are not WSP \x0c\r\n',
  'x\r\n\r\ny\r\n \r\n\r\n',
].map(B);

describe('body canonicalisation', () => {
  it('matches python3-dkim for relaxed and simple, byte for byte', () => {
    const ref = reference(BODIES, []);
    BODIES.forEach((body, i) => {
      expect(canonicalizeBody(body, 'relaxed').toString('latin1'), JSON.stringify(body.toString('latin1'))).toBe(
        ref.relaxed[i].toString('latin1'),
      );
      expect(canonicalizeBody(body, 'simple').toString('latin1'), JSON.stringify(body.toString('latin1'))).toBe(
        ref.simple[i].toString('latin1'),
      );
    });
  });

  it('matches python3-dkim on a large random body (output buffer refills, long and short spans)', () => {
    let seed = 42;
    const rnd = (n: number) => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) % n);
    const TOKENS = ['mot', 'caf\xc3\xa9', ' ', '\t', '  \t ', '\r\n', '\r\n\r\n', '\r', '\n', '\xa0', 'x'.repeat(1500), 'y'.repeat(63), 'z'.repeat(64)];
    const parts: string[] = [];
    for (let size = 0; size < 400_000; ) {
      const t = TOKENS[rnd(TOKENS.length)];
      parts.push(t);
      size += t.length;
    }
    // 992 × 66 + 64 = 65536: a span exactly fills the 64 KiB output buffer, then a CRLF follows.
    const body = B(('z'.repeat(64) + '\r\n').repeat(1000) + parts.join('') + ' \r\n\r\n');
    const ref = reference([body], []);
    expect(canonicalizeBody(body, 'relaxed').equals(ref.relaxed[0])).toBe(true);
    expect(canonicalizeBody(body, 'simple').equals(ref.simple[0])).toBe(true);
    for (const size of [7, 1000, 65_536]) {
      const h = new DkimBodyHasher({ passthrough: false });
      h.update(B('From: a\r\n\r\n'));
      for (let o = 0; o < body.length; o += size) h.update(body.subarray(o, o + size));
      const r = h.result();
      expect(r.bodyHashes.relaxed, `size ${size}`).toBe(sha(ref.relaxed[0]));
      expect(r.bodyHashes.simple, `size ${size}`).toBe(sha(ref.simple[0]));
    }
  });

  it('RFC 6376 §3.4.5 example', () => {
    const body = B(' C \r\nD \t E\r\n\r\n\r\n');
    expect(canonicalizeBody(body, 'relaxed').toString()).toBe(' C\r\nD E\r\n');
    expect(canonicalizeBody(body, 'simple').toString()).toBe(' C \r\nD \t E\r\n');
  });

  it('empty body: relaxed hashes nothing, simple hashes one CRLF', () => {
    expect(canonicalizeBody(B(''), 'relaxed').length).toBe(0);
    expect(canonicalizeBody(B(''), 'simple').toString()).toBe('\r\n');
  });
});

describe('header canonicalisation', () => {
  const HEADERS = [
    'Subject:  Hello \t World  ',
    'SUBJECT : folded\r\n  value\r\n\there ',
    'Subject: \xc3\xa0 la une\xc2\xa0!',
    'X-Latin: caf\xe9\xa0\xa0x',
    'To:\r\n bob@example.net',
  ].map(B);

  it('relaxed matches python3-dkim, 0xA0 kept as is', () => {
    const ref = reference([], HEADERS);
    HEADERS.forEach((h, i) => expect(relaxedHeader(h).toString('latin1')).toBe(ref.headers[i].toString('latin1').replace(/\r\n$/, '')));
    expect(relaxedHeader(B('Subject: \xc3\xa0 la une\xc2\xa0!')).toString('latin1')).toBe('subject:\xc3\xa0 la une\xc2\xa0!');
  });

  it('parses folded fields; bare LF does not end a field', () => {
    const f = parseHeaderFields(B('From: a\r\nSubject: x\r\n y\r\nX-Odd: a\nb\r\n'));
    expect(f.map((x) => x.key)).toEqual(['from', 'subject', 'x-odd']);
    expect(f[1].raw.toString()).toBe('Subject: x\r\n y');
    expect(f[2].offset).toBe('From: a\r\nSubject: x\r\n y\r\n'.length);
  });
});

describe('DkimBodyHasher', () => {
  const MESSAGES = [
    'From: a\r\nSubject: b\r\n\r\nbody  text \r\n\r\n\r\n',
    'From: a\r\n\r\n',
    'From: a\r\nSubject: b\r\n', // no blank line: empty body
    '\r\nbody without headers\r\n',
    'From: a\r\n\r\n\r\n\r\nx\r\n',
    'From: a\r\nX: y\r\n\r\n\xc3\xa0 \xa0 l\xe0\r\n \t\r\n',
  ].map(B);

  for (const [i, m] of MESSAGES.entries()) {
    it(`same header block and hashes for every chunk size (message ${i})`, () => {
      const split = m.indexOf('\r\n\r\n');
      const expectedHeader = split >= 0 ? m.subarray(0, split + 2) : m.subarray(0, 2).equals(B('\r\n')) ? B('') : m;
      const body = split >= 0 ? m.subarray(split + 4) : B('');
      const isHeaderless = m.subarray(0, 2).equals(B('\r\n'));
      const expBody = isHeaderless ? m.subarray(2) : body;
      const expHeader = isHeaderless ? B('') : expectedHeader;
      for (const size of [1, 2, 3, 4, 5, 7, 64, m.length]) {
        const h = new DkimBodyHasher({ passthrough: false });
        for (let o = 0; o < m.length; o += size) h.update(m.subarray(o, o + size));
        const r = h.result();
        expect(r.headerBlock?.toString('latin1'), `size ${size}`).toBe(expHeader.toString('latin1'));
        expect(r.bodyHashes.relaxed, `size ${size}`).toBe(sha(canonicalizeBody(expBody, 'relaxed')));
        expect(r.bodyHashes.simple, `size ${size}`).toBe(sha(canonicalizeBody(expBody, 'simple')));
      }
    });
  }

  it('passes bytes through unchanged as a Transform', async () => {
    const h = new DkimBodyHasher();
    const out: Buffer[] = [];
    h.on('data', (d: Buffer) => out.push(d));
    const done = new Promise((r) => h.on('end', r));
    h.write(B('From: a\r\n\r\nhi\r\n'));
    h.end();
    await done;
    expect(Buffer.concat(out).toString()).toBe('From: a\r\n\r\nhi\r\n');
    expect(h.result().bodyHashes.relaxed).toBe(sha(B('hi\r\n')));
  });

  it('stops keeping headers over the limit and says so', () => {
    const h = new DkimBodyHasher({ passthrough: false, maxHeaderBytes: 100 });
    h.update(B('X-Big: ' + 'a'.repeat(200) + '\r\n\r\nbody\r\n'));
    const r = h.result();
    expect(r.headerOverflow).toBe(true);
    expect(r.headerBlock).toBeNull();
    expect(r.bodyHashes.relaxed).toBe(sha(B('body\r\n')));
  });
});

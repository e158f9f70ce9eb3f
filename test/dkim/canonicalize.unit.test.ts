/**
 * DKIM canonicalisation (relay/dkim/canonicalize.ts) against the examples of RFC 6376 and the
 * rules a byte-exact implementation must keep, with no verifier needed. canonicalize.test.ts
 * compares the same code with python3-dkim on many more inputs.
 */
import { describe, expect, it } from 'vitest';
import { BodyCanonicalizer, canonicalizeBody, canonicalizeHeader, parseHeaderFields } from '../../relay/dkim/canonicalize.js';

const B = (s: string) => Buffer.from(s, 'latin1');
const L = (b: Buffer) => b.toString('latin1');

describe('RFC 6376 §3.4.5 example', () => {
  const headers = B('A: X\r\nB : Y\t\r\n\tZ  \r\n');
  const body = B(' C \r\nD \t E\r\n\r\n\r\n');

  it('relaxed headers: lower-case names, unfolded, one space, none around the colon or at the end', () => {
    const fields = parseHeaderFields(headers);
    expect(fields.map((f) => f.key)).toEqual(['a', 'b']);
    expect(fields.map((f) => L(canonicalizeHeader(f.raw, 'relaxed')) + '\r\n').join('')).toBe('a:X\r\nb:Y Z\r\n');
  });

  it('simple headers: unchanged', () => {
    expect(parseHeaderFields(headers).map((f) => L(canonicalizeHeader(f.raw, 'simple')) + '\r\n').join('')).toBe(L(headers));
  });

  it('relaxed body: WSP runs to one space, none at line ends, no trailing empty lines', () => {
    expect(L(canonicalizeBody(body, 'relaxed'))).toBe(' C\r\nD E\r\n');
  });

  it('simple body: only the trailing empty lines go', () => {
    expect(L(canonicalizeBody(body, 'simple'))).toBe(' C \r\nD \t E\r\n');
  });
});

describe('body rules', () => {
  it('an empty body is CRLF in simple and empty in relaxed (RFC 6376 §3.4.3, §3.4.4)', () => {
    expect(L(canonicalizeBody(B(''), 'simple'))).toBe('\r\n');
    expect(L(canonicalizeBody(B('\r\n\r\n'), 'simple'))).toBe('\r\n');
    expect(L(canonicalizeBody(B(''), 'relaxed'))).toBe('');
    expect(L(canonicalizeBody(B(' \r\n\t\r\n'), 'relaxed'))).toBe('');
  });

  it('a last line without CRLF gets one', () => {
    expect(L(canonicalizeBody(B('fin'), 'simple'))).toBe('fin\r\n');
    expect(L(canonicalizeBody(B('fin  '), 'relaxed'))).toBe('fin\r\n');
  });

  it('only space and tab are whitespace: 0xA0, a no-break space in UTF-8, VT and FF are content', () => {
    const body = B('\xc3\xa0 la\xc2\xa0une \xa0 \x0b\x0c \r\n');
    expect(L(canonicalizeBody(body, 'relaxed'))).toBe('\xc3\xa0 la\xc2\xa0une \xa0 \x0b\x0c\r\n');
  });

  it('bare CR and bare LF are content, not line ends', () => {
    expect(L(canonicalizeBody(B('a \rb\nc \r\n'), 'relaxed'))).toBe('a \rb\nc\r\n');
  });

  it('streamed in chunks of any size, the output is the same as in one piece', () => {
    const body = B('Bonjour  \t à tous\r\n\r\n  \r\nsuite \r\n\r\n\r\n');
    for (const canon of ['relaxed', 'simple'] as const) {
      const whole = canonicalizeBody(body, canon);
      for (const size of [1, 2, 3, 7]) {
        const out: Buffer[] = [];
        const c = new BodyCanonicalizer(canon, { update: (d: Buffer) => out.push(Buffer.from(d)) });
        for (let i = 0; i < body.length; i += size) c.write(body.subarray(i, i + size));
        c.end();
        expect(L(Buffer.concat(out)), `${canon}, chunks of ${size}`).toBe(L(whole));
      }
    }
  });
});

describe('header fields', () => {
  it('a folded field is one field; only CRLF ends a line', () => {
    const fields = parseHeaderFields(B('Subject: un\r\n deux\r\nX-Bare: a\nb\r\nTo: c@d\r\n'));
    expect(fields.map((f) => [f.key, L(f.raw)])).toEqual([
      ['subject', 'Subject: un\r\n deux'],
      ['x-bare', 'X-Bare: a\nb'],
      ['to', 'To: c@d'],
    ]);
    expect(L(canonicalizeHeader(fields[0]!.raw, 'relaxed'))).toBe('subject:un deux');
  });

  it('relaxed keeps the value bytes (8-bit headers are signed as they are)', () => {
    const [f] = parseHeaderFields(B('Subject:  R\xc3\xa9union\xc2\xa0 du  jeudi \r\n'));
    expect(L(canonicalizeHeader(f!.raw, 'relaxed'))).toBe('subject:R\xc3\xa9union\xc2\xa0 du jeudi');
  });
});

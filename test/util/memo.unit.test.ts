/**
 * The memo of parsed domains, addresses and From: headers holds keys that come from mail: it is
 * bounded in bytes whatever the keys' number or length, and still hands back the same answer for
 * a repeated key (the point of it).
 */
import { describe, expect, it } from 'vitest';
import { memoize } from '../../src/util/memo.js';

describe('memoize', () => {
  it('never holds more than maxBytes, however many distinct keys come', () => {
    let calls = 0;
    const m = memoize((s: string) => {
      calls++;
      return [s.toUpperCase()];
    }, { maxBytes: 10_000 });
    let peak = 0;
    for (let i = 0; i < 5000; i++) {
      expect(m(`key-${i}-${'x'.repeat(i % 300)}`)[0]).toBe(`KEY-${i}-${'X'.repeat(i % 300)}`);
      peak = Math.max(peak, m.bytes);
    }
    expect(calls).toBe(5000);
    expect(peak).toBeLessThanOrEqual(10_000);
    expect(peak).toBeGreaterThan(5_000);
  });

  it('answers a long key without holding it', () => {
    let calls = 0;
    const m = memoize((s: string) => (calls++, s.length), { maxKeyLength: 100 });
    const long = 'a'.repeat(900 * 1024);
    expect(m(long)).toBe(900 * 1024);
    expect(m(long)).toBe(900 * 1024);
    expect(calls).toBe(2);
    expect(m.bytes).toBe(0);
  });

  it('hands back the very same answer for a repeated key', () => {
    const m = memoize((s: string) => Object.freeze([s]));
    const a = m('alice@laruche.example');
    expect(m('alice@laruche.example')).toBe(a);
    expect(m.bytes).toBeGreaterThan(0);
  });

  it('keeps the default bound at 1 MiB', () => {
    const m = memoize((s: string) => s);
    for (let i = 0; i < 20_000; i++) m(`${i}@${'d'.repeat(1000)}.example`);
    expect(m.bytes).toBeLessThanOrEqual(1024 * 1024);
  });
});

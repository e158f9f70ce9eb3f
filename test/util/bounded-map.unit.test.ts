/**
 * The byte-bounded map behind the memo, the route cache and the MTA-STS cache: whatever the
 * number and size of entries, it never holds more than its bound.
 */
import { describe, expect, it } from 'vitest';
import { BoundedMap, approxBytes } from '../../src/util/bounded-map.js';

describe('BoundedMap', () => {
  it('never holds more than maxBytes, and forgets all at once when full', () => {
    const m = new BoundedMap<{ hosts: string[] }>(50_000);
    let peak = 0;
    for (let i = 0; i < 10_000; i++) {
      m.set(`d${i}.example`, { hosts: Array.from({ length: i % 20 }, (_, k) => `mx${k}.d${i}.example`) });
      expect(m.get(`d${i}.example`)?.hosts).toHaveLength(i % 20);
      peak = Math.max(peak, m.bytes);
    }
    expect(peak).toBeLessThanOrEqual(50_000);
    expect(m.size).toBeLessThan(10_000);
  });

  it('does not hold an entry larger than the bound', () => {
    const m = new BoundedMap<string>(1000);
    m.set('k', 'x'.repeat(2000));
    expect(m.get('k')).toBeUndefined();
    expect(m.bytes).toBe(0);
  });

  it('estimates strings, lists and objects', () => {
    expect(approxBytes('abcd')).toBe(8);
    expect(approxBytes(['ab', 'cd'])).toBeGreaterThan(approxBytes('abcd'));
    expect(approxBytes({ mx: ['a'.repeat(1000)] })).toBeGreaterThan(2000);
    expect(approxBytes(null)).toBe(8);
  });
});

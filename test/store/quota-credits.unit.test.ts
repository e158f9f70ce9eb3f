/** Quota credits: the node-side book (pure; the Redis side is in contract.test.ts). */
import { describe, it, expect } from 'vitest';
import { CreditBook, MIN_LIMIT, MIN_WINDOW_MS } from '../../src/store/quota-credits.js';

const H = 3_600_000;
const big = { key: 'q', limit: 100_000, windowMs: H, cost: 1 };

function book(): { b: CreditBook; at: (t: number) => void } {
  let local = 0;
  const b = new CreditBook(() => local);
  return { b, at: (t) => { local = t; } };
}

describe('quota credits', () => {
  it('only large limits over long windows take credit, at most 1/64 of the room', () => {
    const { b } = book();
    expect(b.wanted({ ...big, limit: MIN_LIMIT - 1 }, 'k')).toBe(0);
    expect(b.wanted({ ...big, windowMs: MIN_WINDOW_MS - 1 }, 'k')).toBe(0);
    expect(b.wanted(big, 'k')).toBe(16);
    b.charged('k', big.limit - 100, 0, 0);
    expect(b.wanted(big, 'k')).toBe(1);
    b.charged('k', big.limit - 10, 0, 0);
    expect(b.wanted(big, 'k')).toBe(0);
  });

  it('spends credit only within its granule, on a Redis clock never underestimated', () => {
    const { b, at } = book();
    b.charged('k', 17, 16, 10_000);
    // No reply seen yet: the Redis clock is unknown, nothing is spendable.
    expect(b.take('k', 1)).toBeUndefined();
    // A script that ran at Redis time 5000 was sent at local 4990: Redis is at most 10 ms ahead.
    at(4990);
    b.observeClock(5000, 4990);
    expect(b.redisNow()).toBe(5000);
    expect(b.take('k', 10)).toBe(10_000);
    expect(b.take('k', 7)).toBeUndefined();
    expect(b.take('k', 6)).toBe(10_000);
    // Spent out within its granule: the next credit is twice as large.
    expect(b.wanted(big, 'k')).toBe(32);
    b.charged('k', 50, 32, 10_000);
    at(9_975);
    expect(b.take('k', 1)).toBeUndefined();
    expect(b.expired()).toEqual([{ key: 'k', entry: 10_000, left: 32 }]);
    expect(b.expired()).toEqual([]);
    // Left unspent: the next one starts small again.
    expect(b.wanted(big, 'k')).toBe(16);
  });

  it('gives back what a refused or bulk message took, to the right granule', () => {
    const { b, at } = book();
    at(1000);
    b.observeClock(1000, 1000);
    b.charged('k', 5, 4, 2000);
    expect(b.take('k', 3)).toBe(2000);
    b.giveBack('k', 3, 2000);
    expect(b.take('k', 4)).toBe(2000);
    // Taken from a credit that is gone by the time the answer comes: those units go back to the store.
    b.giveBack('k', 4, 2000);
    expect(b.take('k', 4)).toBe(2000);
    at(1990);
    b.giveBack('k', 4, 2000);
    expect(b.expired()).toEqual([{ key: 'k', entry: 2000, left: 4 }]);
    // A newer grant replaces an older credit: the older one's units go back.
    at(1000);
    b.charged('j', 5, 4, 2000);
    b.charged('j', 9, 8, 3000);
    expect(b.drain()).toEqual([{ key: 'j', entry: 2000, left: 4 }, { key: 'j', entry: 3000, left: 8 }]);
  });
});

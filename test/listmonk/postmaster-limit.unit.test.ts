/** The bound on mail forwarded to postmaster@ the bounce domain (listmonk-bridge/postmaster-limit.ts). */
import { describe, expect, it } from 'vitest';
import { PostmasterLimit, POSTMASTER_PER_ADDRESS, POSTMASTER_TOTAL } from '../../listmonk-bridge/postmaster-limit.js';

describe('postmaster limit', () => {
  it('takes 10 an hour per client address, sliding', () => {
    const l = new PostmasterLimit();
    const t0 = 1_000_000_000;
    for (let i = 0; i < POSTMASTER_PER_ADDRESS; i++) expect(l.take('192.0.2.1', t0 + i)).toBe(true);
    expect(l.take('192.0.2.1', t0 + 100)).toBe(false);
    expect(l.take('192.0.2.2', t0 + 100)).toBe(true);
    // An hour after the first, one is free again.
    expect(l.take('192.0.2.1', t0 + 3_600_000)).toBe(true);
    expect(l.take('192.0.2.1', t0 + 3_600_000)).toBe(false);
  });

  it('takes 100 an hour in all, whatever the addresses', () => {
    const l = new PostmasterLimit();
    for (let i = 0; i < POSTMASTER_TOTAL; i++) expect(l.take(`198.51.100.${i}`, 5000 + i)).toBe(true);
    expect(l.take('203.0.113.9', 6000)).toBe(false);
    expect(l.take('203.0.113.9', 5000 + 3_600_000)).toBe(true);
  });
});

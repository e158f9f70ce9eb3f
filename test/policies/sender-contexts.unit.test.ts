/**
 * Sender contexts are cached per mailbox, which clients choose: the cache is bounded in bytes,
 * counting the per-recipient-count requests built later, whatever the number of senders.
 */
import { describe, expect, it } from 'vitest';
import { DEFAULT_POLICY_CONFIG } from '../../policies/service/config.js';
import { SENDER_CONTEXTS_BYTES, SenderContexts } from '../../policies/service/sender-context.js';

describe('sender contexts', () => {
  it('stay within their byte bound for any number of senders and recipient counts', () => {
    const c = new SenderContexts(DEFAULT_POLICY_CONFIG);
    const overrides = new Map();
    let peak = 0;
    for (let i = 0; i < 8_000; i++) {
      const mailbox = `${'s'.repeat(60)}${i}@laruche.example`;
      const ctx = c.get({ domain: 'laruche.example', mailbox }, overrides);
      for (let n = 1; n < 64; n += 13) expect(ctx.requests(n).length).toBe(ctx.limits.length);
      peak = Math.max(peak, c.bytes);
    }
    expect(peak).toBeLessThanOrEqual(SENDER_CONTEXTS_BYTES);
    // The bound was reached (and the cache started over), not merely approached.
    expect(peak).toBeGreaterThan(SENDER_CONTEXTS_BYTES / 2);
  });

  it('hands back the same context for the same sender', () => {
    const c = new SenderContexts(DEFAULT_POLICY_CONFIG);
    const overrides = new Map();
    const a = c.get({ domain: 'laruche.example', mailbox: 'a@laruche.example' }, overrides);
    expect(c.get({ domain: 'laruche.example', mailbox: 'a@laruche.example' }, overrides)).toBe(a);
    expect(a.requests(3)).toBe(a.requests(3));
  });
});

/** The per-node fallback limiter keeps its log in time order, whatever order charges come in. */
import { describe, expect, it } from 'vitest';
import { LocalLimiter } from '../../policies/service/local-limiter.js';

describe('local limiter', () => {
  const req = [{ key: 'k', limit: 2, windowMs: 1000, cost: 1 }];

  it('expires an out-of-order charge at its own time', () => {
    const l = new LocalLimiter();
    expect(l.consume(req, 5000).allowed).toBe(true);
    expect(l.consume(req, 4000).allowed).toBe(true); // a late caller with an older clock
    expect(l.consume(req, 4900).allowed).toBe(false);
    // At 5500 the charge of 4000 has left the window, the one of 5000 has not.
    const r = l.consume(req, 5500);
    expect(r.allowed).toBe(true);
    expect(r.states[0]!.used).toBe(2);
  });

  it('stays exact over many charges', () => {
    const l = new LocalLimiter();
    const big = [{ key: 'b', limit: 10_000, windowMs: 60_000, cost: 1 }];
    let accepted = 0;
    for (let i = 0; i < 12_000; i++) if (l.consume(big, 1_000_000 + i).allowed) accepted++;
    expect(accepted).toBe(10_000);
  });
});

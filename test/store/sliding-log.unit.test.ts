/**
 * Quota arithmetic (src/store/sliding-log.ts over src/store/memory-log.ts): the algorithm the
 * embedded store and the per-node fallback run, and the Redis store's Lua mirrors (the store
 * contract tests compare them). Granules, the no-burst guarantee over any window, room coming
 * back at most one granule late, all-or-nothing consumes over several limits, and pacing.
 */
import { describe, expect, it } from 'vitest';
import { chargeTime, granuleMs, runSlidingLog, type LogMode } from '../../src/store/sliding-log.js';
import { MemoryLog, memoryAdapter } from '../../src/store/memory-log.js';
import type { LimitRequest } from '../../src/store/types.js';

const MIN = 60_000;
const HOUR = 60 * MIN;
const T0 = Date.UTC(2026, 11, 7, 8, 0, 0);

/** Limits keyed by name, each with its own in-memory log. */
function limits() {
  const logs = new Map<string, MemoryLog>();
  return (mode: LogMode, reqs: LimitRequest[], now: number) => {
    const ls = reqs.map((r) => logs.get(r.key) ?? logs.set(r.key, new MemoryLog()).get(r.key)!);
    return runSlidingLog(mode, reqs, now, memoryAdapter(ls));
  };
}

const req = (key: string, limit: number, windowMs: number, cost = 1): LimitRequest => ({ key, limit, windowMs, cost });

/** A small deterministic generator (the property tests must be reproducible). */
function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1_664_525) + 1_013_904_223) >>> 0) / 2 ** 32);
}

describe('granules', () => {
  it('are 1/1000 of the window, at least 1 ms; a charge is logged at the last millisecond of its granule', () => {
    expect([MIN, HOUR, 24 * HOUR, 1000, 500].map(granuleMs)).toEqual([60, 3600, 86_400, 1, 1]);
    expect(chargeTime(T0, HOUR)).toBe(T0 + 3599);
    expect(chargeTime(T0 + 3599, HOUR)).toBe(T0 + 3599);
    expect(chargeTime(T0 + 3600, HOUR)).toBe(T0 + 7199);
    expect(chargeTime(T0 + 123, 1000)).toBe(T0 + 123);
  });

  it('charges of one granule share one log entry, so a log holds about 1000 entries whatever the volume', () => {
    const log = new MemoryLog();
    const a = memoryAdapter([log]);
    for (let t = 0; t < HOUR; t += 100) runSlidingLog('consume', [req('m', 1e9, HOUR)], T0 + t, a);
    expect(log.sum).toBe(36_000);
    expect(log.size).toBe(1000);
  });
});

describe('consume', () => {
  it('refuses past the limit with the time room comes back, and charges nothing when refused', () => {
    const run = limits();
    for (let i = 0; i < 3; i++) expect(run('consume', [req('m', 3, HOUR)], T0 + i * MIN).allowed).toBe(true);
    const refused = run('consume', [req('m', 3, HOUR)], T0 + 10 * MIN);
    expect(refused).toMatchObject({ allowed: false, refusedIndex: 0 });
    // The first charge (logged at T0 + 3599) leaves the window one hour after its log time.
    expect(refused.states[0]).toMatchObject({ used: 3, limit: 3, resetAt: T0 + 3599 + HOUR });
    expect(run('peek', [req('m', 3, HOUR)], T0 + 10 * MIN).states[0]!.used).toBe(3);
    expect(run('consume', [req('m', 3, HOUR)], T0 + HOUR + 3598).allowed).toBe(false);
    expect(run('consume', [req('m', 3, HOUR)], T0 + HOUR + 3599).allowed).toBe(true);
  });

  it('is all or nothing over the limits of one message: a refusal by one charges none', () => {
    const run = limits();
    const message = (now: number) => run('consume', [req('mailbox', 10, HOUR), req('domain', 2, HOUR), req('tenant', 100, 24 * HOUR)], now);
    expect(message(T0).allowed).toBe(true);
    expect(message(T0 + 1000).allowed).toBe(true);
    const third = message(T0 + 2000);
    expect(third).toMatchObject({ allowed: false, refusedIndex: 1 });
    expect(third.states.map((s) => s.used)).toEqual([2, 2, 2]);
    expect(run('peek', [req('mailbox', 10, HOUR), req('tenant', 100, 24 * HOUR)], T0 + 3000).states.map((s) => s.used)).toEqual([2, 2]);
  });

  it('counts costs above one (recipients per message)', () => {
    const run = limits();
    expect(run('consume', [req('r', 10, HOUR, 7)], T0).allowed).toBe(true);
    expect(run('consume', [req('r', 10, HOUR, 4)], T0 + 1).allowed).toBe(false);
    expect(run('consume', [req('r', 10, HOUR, 3)], T0 + 2).states[0]!.used).toBe(10);
  });

  it('never lets any window hold more than the limit, and never refuses what an exact log would allow one granule later', () => {
    for (const [seed, limit, windowMs] of [[1, 20, MIN], [2, 200, HOUR], [3, 5, 1000], [4, 50, 10 * MIN]] as const) {
      const run = limits();
      const rnd = prng(seed);
      const accepted: number[] = [];
      let refusals = 0;
      let now = T0;
      for (let n = 0; n < 1500; n++) {
        now += Math.floor(rnd() * rnd() * (windowMs / limit) * 3);
        const inExactWindow = accepted.filter((t) => t > now - windowMs).length;
        const inLateWindow = accepted.filter((t) => t > now - windowMs - granuleMs(windowMs)).length;
        const r = run('consume', [req('k', limit, windowMs)], now);
        if (r.allowed) {
          accepted.push(now);
          expect(inExactWindow + 1, `seed ${seed}: window ending ${now} over the limit`).toBeLessThanOrEqual(limit);
        } else {
          refusals++;
          // Refused only when the window stretched by one granule is full.
          expect(inLateWindow, `seed ${seed}: refused at ${now} with room`).toBeGreaterThanOrEqual(limit);
        }
      }
      expect(accepted.length).toBeGreaterThan(limit);
      expect(refusals, `seed ${seed}: the load must reach the limit`).toBeGreaterThan(10);
    }
  });
});

describe('reserve (pacing of newsletter mail)', () => {
  it('books each message at the earliest time with room, in order, never above the limit in any window', () => {
    const run = limits();
    const at: number[] = [];
    for (let i = 0; i < 25; i++) at.push(run('reserve', [req('n', 10, MIN)], T0).at);
    expect(at.slice(0, 10).every((t) => t === T0)).toBe(true);
    for (let i = 1; i < at.length; i++) expect(at[i]).toBeGreaterThanOrEqual(at[i - 1]!);
    for (const t of at) expect(at.filter((u) => u > t - MIN && u <= t).length).toBeLessThanOrEqual(10);
    // The 11th message waits for the first granule's charges to leave the window.
    expect(at[10]).toBe(chargeTime(T0, MIN) + MIN);
  });
});

/**
 * Sliding-log limits (the embedded store and the per-node fallback limiter run this; the Redis
 * store runs the same algorithm in Lua). A charge is an entry (ts, cost); it counts while
 * ts > now - windowMs. No fixed windows, so no burst at window edges.
 *
 * Charges are logged at the last millisecond of their granule (1/1000 of the window: 60 ms for a
 * minute, 3.6 s for an hour, 86.4 s for a day), and charges of one granule share one entry. So a
 * log holds at most ~1000 entries whatever the volume, and a charge is counted at least as long as
 * an exact log would count it, at most one granule longer: no window of windowMs ever holds more
 * than the limit; room comes back at most one granule late (exact for windows up to 1 s).
 */
import type { LimitRequest, LimitState } from './types.js';

export interface LogEntry {
  ts: number;
  cost: number;
}

/** Storage of the entries of the limits of one call; index i is requests[i]. */
export interface LogAdapter {
  /** Drop entries with ts <= cutoff; return the sum of the remaining costs. */
  trim(i: number, cutoff: number): number;
  /** Remaining entries with ts > after, oldest first. */
  entriesAfter(i: number, after: number): Iterable<LogEntry>;
  newest(i: number): number | undefined;
  /** Add a charge; a charge at the time of an existing entry adds to that entry. */
  add(i: number, entry: LogEntry, expiresAt: number): void;
}

/** Granule of a window: charges within one granule share a log entry. */
export function granuleMs(windowMs: number): number {
  return Math.max(1, Math.floor(windowMs / 1000));
}

/** Time a charge at t is logged at: the last millisecond of its granule. */
export function chargeTime(t: number, windowMs: number): number {
  const g = granuleMs(windowMs);
  return Math.floor(t / g) * g + g - 1;
}

export type LogMode = 'consume' | 'reserve' | 'peek';

export interface LogOutcome {
  allowed: boolean;
  /** Index of the first refusing limit (consume only). */
  refusedIndex?: number;
  /** Booking time (reserve), or now. */
  at: number;
  states: LimitState[];
}

/** Earliest t >= from at which usage + cost <= limit, given usage `used` at `from`. */
function freeAt(a: LogAdapter, i: number, r: LimitRequest, used: number, from: number): number {
  if (used + r.cost <= r.limit) return from;
  const need = used + r.cost - r.limit;
  let freed = 0;
  let last = from - r.windowMs;
  for (const e of a.entriesAfter(i, from - r.windowMs)) {
    freed += e.cost;
    last = e.ts;
    if (freed >= need) return e.ts + r.windowMs;
  }
  return last + r.windowMs; // cost > limit: when usage is back to zero
}

function backToZero(a: LogAdapter, i: number, r: { windowMs: number }, now: number): number {
  const n = a.newest(i);
  return n === undefined ? now : Math.max(now, n + r.windowMs);
}

export function runSlidingLog(mode: LogMode, reqs: LimitRequest[], now: number, a: LogAdapter): LogOutcome {
  const used = reqs.map((r, i) => a.trim(i, now - r.windowMs));
  const state = (i: number, resetAt: number): LimitState => ({
    key: reqs[i].key, limit: reqs[i].limit, windowMs: reqs[i].windowMs, used: used[i], resetAt,
  });
  if (mode === 'peek') return { allowed: true, at: now, states: reqs.map((r, i) => state(i, backToZero(a, i, r, now))) };

  if (mode === 'consume') {
    const over = (r: LimitRequest, i: number) => used[i] + r.cost > r.limit;
    const refusedIndex = reqs.findIndex(over);
    if (refusedIndex >= 0) {
      const states = reqs.map((r, i) => state(i, over(r, i) ? freeAt(a, i, r, used[i], now) : backToZero(a, i, r, now)));
      return { allowed: false, refusedIndex, at: now, states };
    }
    for (let i = 0; i < reqs.length; i++) {
      const r = reqs[i]!;
      if (r.cost <= 0) continue;
      const ts = chargeTime(now, r.windowMs);
      a.add(i, { ts, cost: r.cost }, Math.max(ts, a.newest(i) ?? ts) + r.windowMs);
      used[i] += r.cost;
    }
    return { allowed: true, at: now, states: reqs.map((r, i) => state(i, backToZero(a, i, r, now))) };
  }

  // reserve: book in or after the granule of the newest booking, so bookings stay in order.
  let t0 = now;
  reqs.forEach((r, i) => { t0 = Math.max(t0, (a.newest(i) ?? now) - granuleMs(r.windowMs) + 1); });
  let at = t0;
  reqs.forEach((r, i) => {
    let usedAtT0 = used[i];
    if (t0 > now) for (const e of a.entriesAfter(i, now - r.windowMs)) {
      if (e.ts > t0 - r.windowMs) break;
      usedAtT0 -= e.cost;
    }
    at = Math.max(at, freeAt(a, i, r, usedAtT0, t0));
  });
  reqs.forEach((r, i) => {
    if (r.cost <= 0) return;
    const ts = chargeTime(at, r.windowMs);
    a.add(i, { ts, cost: r.cost }, Math.max(ts, a.newest(i) ?? ts) + r.windowMs);
    used[i] += r.cost;
  });
  return { allowed: true, at, states: reqs.map((r, i) => state(i, backToZero(a, i, r, now))) };
}

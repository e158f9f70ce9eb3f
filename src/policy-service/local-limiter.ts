/**
 * Per-node in-memory limits, used only when the store is unreachable and
 * policies.store_failure is "local". Same exact sliding log as the stores, but per process.
 */
import { runSlidingLog, type LogAdapter, type LogEntry } from '../store/sliding-log.js';
import type { ConsumeResult, LimitRequest, ReserveResult } from '../store/types.js';

interface Log { entries: LogEntry[]; sum: number; expiresAt: number }

/** Entries stay sorted by time; charges nearly always come last, so this is usually a push. */
function insertByTime(entries: LogEntry[], e: LogEntry): void {
  let lo = entries.length;
  if (lo === 0 || entries[lo - 1]!.ts <= e.ts) {
    entries.push(e);
    return;
  }
  let l = 0;
  while (l < lo) {
    const mid = (l + lo) >> 1;
    if (entries[mid]!.ts <= e.ts) l = mid + 1; else lo = mid;
  }
  entries.splice(l, 0, e);
}

export class LocalLimiter {
  private readonly logs = new Map<string, Log>();
  private lastSweep = 0;

  private run(mode: 'consume' | 'reserve', reqs: LimitRequest[], now: number): ReturnType<typeof runSlidingLog> {
    this.sweep(now);
    const logs = reqs.map((r) => this.logs.get(r.key) ?? { entries: [], sum: 0, expiresAt: 0 });
    const adapter: LogAdapter = {
      trim: (i, cutoff) => {
        const l = logs[i];
        while (l.entries.length && l.entries[0].ts <= cutoff) l.sum -= l.entries.shift()!.cost;
        return l.entries.length ? l.sum : (l.sum = 0);
      },
      entriesAfter: (i, after) => logs[i].entries.filter((e) => e.ts > after),
      newest: (i) => logs[i].entries.at(-1)?.ts,
      add: (i, e, expiresAt) => {
        const l = logs[i];
        insertByTime(l.entries, e);
        l.sum += e.cost;
        l.expiresAt = Math.max(l.expiresAt, expiresAt);
        this.logs.set(reqs[i].key, l);
      },
    };
    return runSlidingLog(mode, reqs, now, adapter);
  }

  consume(reqs: LimitRequest[], now: number): ConsumeResult {
    const r = this.run('consume', reqs, now);
    return r.allowed ? { allowed: true, states: r.states } : { allowed: false, refused: r.states[r.refusedIndex ?? 0], states: r.states };
  }

  reserve(reqs: LimitRequest[], now: number): ReserveResult {
    const r = this.run('reserve', reqs, now);
    return { at: r.at, states: r.states };
  }

  private sweep(now: number): void {
    if (now - this.lastSweep < 60_000) return;
    this.lastSweep = now;
    for (const [k, l] of this.logs) if (l.expiresAt <= now) this.logs.delete(k);
  }
}

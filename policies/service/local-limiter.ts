/**
 * Per-node in-memory limits, used only when the store is unreachable and
 * policies.store_failure is "local". Same sliding log as the stores, but per process.
 */
import { runSlidingLog } from '../../src/store/sliding-log.js';
import { MemoryLog, memoryAdapter } from '../../src/store/memory-log.js';
import type { ConsumeResult, LimitRequest, ReserveResult } from '../../src/store/types.js';

export class LocalLimiter {
  private readonly logs = new Map<string, MemoryLog>();
  private lastSweep = 0;

  private run(mode: 'consume' | 'reserve', reqs: LimitRequest[], now: number): ReturnType<typeof runSlidingLog> {
    this.sweep(now);
    const logs = reqs.map((r) => {
      let l = this.logs.get(r.key);
      if (!l) this.logs.set(r.key, (l = new MemoryLog()));
      return l;
    });
    return runSlidingLog(mode, reqs, now, memoryAdapter(logs));
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

/**
 * The sliding log of one limit held in memory (the embedded store's counters, the per-node
 * fallback limiter): entries sorted by time with their running sum. Charges nearly always land on
 * the newest entry (same granule) or just after it, so an add is O(1) in practice.
 */
import type { LogAdapter, LogEntry } from './sliding-log.js';

export class MemoryLog {
  private ts: number[] = [];
  private costs: number[] = [];
  /** Index of the oldest live entry (entries before it were trimmed; compacted now and then). */
  private head = 0;
  sum = 0;
  /** When the newest charge leaves the window (the log can be dropped after that). */
  expiresAt = 0;

  get size(): number {
    return this.ts.length - this.head;
  }

  /** Drops entries with ts <= cutoff and returns them (for write-behind deletes); sum stays current. */
  trim(cutoff: number): number[] {
    const dropped: number[] = [];
    while (this.head < this.ts.length && this.ts[this.head]! <= cutoff) {
      dropped.push(this.ts[this.head]!);
      this.sum -= this.costs[this.head]!;
      this.head++;
    }
    if (this.head === this.ts.length) {
      this.ts = [];
      this.costs = [];
      this.head = 0;
      this.sum = 0;
    } else if (this.head > 64 && this.head * 2 > this.ts.length) {
      this.ts = this.ts.slice(this.head);
      this.costs = this.costs.slice(this.head);
      this.head = 0;
    }
    return dropped;
  }

  *entriesAfter(after: number): Generator<LogEntry> {
    for (let j = this.head; j < this.ts.length; j++) if (this.ts[j]! > after) yield { ts: this.ts[j]!, cost: this.costs[j]! };
  }

  newest(): number | undefined {
    return this.ts.length > this.head ? this.ts[this.ts.length - 1] : undefined;
  }

  /** Adds a charge (merged into the entry of the same time); returns that entry's new cost. */
  add(ts: number, cost: number): number {
    this.sum += cost;
    let j = this.ts.length;
    while (j > this.head && this.ts[j - 1]! > ts) j--;
    if (j > this.head && this.ts[j - 1] === ts) return (this.costs[j - 1]! += cost);
    this.ts.splice(j, 0, ts);
    this.costs.splice(j, 0, cost);
    return cost;
  }
}

/** A LogAdapter over in-memory logs; `onAdd` sees every entry written (for write-behind). */
export function memoryAdapter(logs: MemoryLog[], hooks: { onTrim?: (i: number, dropped: number[]) => void; onAdd?: (i: number, ts: number, entryCost: number) => void } = {}): LogAdapter {
  return {
    trim: (i, cutoff) => {
      const l = logs[i]!;
      const dropped = l.trim(cutoff);
      if (dropped.length) hooks.onTrim?.(i, dropped);
      return l.sum;
    },
    entriesAfter: (i, after) => logs[i]!.entriesAfter(after),
    newest: (i) => logs[i]!.newest(),
    add: (i, e, expiresAt) => {
      const l = logs[i]!;
      const total = l.add(e.ts, e.cost);
      l.expiresAt = Math.max(l.expiresAt, expiresAt);
      hooks.onAdd?.(i, e.ts, total);
    },
  };
}

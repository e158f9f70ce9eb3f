/**
 * The embedded store's counters (quota logs, running sums, window sets) held in memory and
 * written behind to disk: a message's policy check is a few map operations instead of a disk
 * transaction. One process owns them (see counter-owner.ts), so memory is the truth; what changed
 * is handed over as a WriteBatch, which the LMDB store commits every 500 ms. State not yet in
 * memory is loaded on first use, so counters survive restarts; a crash loses at most the last
 * batch (like Redis with `appendfsync everysec`, the production store, loses its last second).
 */
import { runSlidingLog, type LogEntry, type LogMode, type LogOutcome } from './sliding-log.js';
import { MemoryLog, memoryAdapter } from './memory-log.js';
import type { LimitRequest, WindowSetAddResult } from './types.js';

/** Where state comes from when it is not in memory yet. */
export interface CounterSource {
  /** Entries of a limit, any order (older files may hold several per time), and its sweep time. */
  log(key: string): { entries: LogEntry[]; sweepAt: number } | undefined;
  /** Every running sum on disk (read once: a new key then costs no disk read). */
  values(): Iterable<[string, { v: number; exp: number }]>;
  windowSet(key: string): { members: Map<string, number>; exp: number } | undefined;
}

/** What changed since the last batch. A null / 0 means deleted. */
export interface WriteBatch {
  /**
   * Per limit key: drop what is on disk first (reset), entries written (cost 0 = removed), and
   * the sweep time (null = nothing left).
   */
  logs: Map<string, LogBatch>;
  values: Map<string, { v: number; exp: number } | null>;
  /** Per window set: members written (ts 0 = removed), and its expiry (null = drop it all). */
  sets: Map<string, { members: Map<string, number>; exp: number | null }>;
}

export interface LogBatch {
  reset: boolean;
  entries: Map<number, number>;
  sweepAt: number | null;
}

interface Log extends MemoryLog {
  /** Real time after which the log may be dropped. */
  sweepAt?: number;
}

interface WindowSet {
  members: Map<string, number>;
  oldest: number;
  exp: number;
}

const emptyBatch = (): WriteBatch => ({ logs: new Map(), values: new Map(), sets: new Map() });

export class EmbeddedCounters {
  private readonly logs = new Map<string, Log>();
  private readonly values = new Map<string, { v: number; exp: number }>();
  private readonly sets = new Map<string, WindowSet>();
  private batch = emptyBatch();
  private valuesLoaded = false;

  /**
   * Keys are the callers' everywhere (memory, source, batches): the store namespaces them on
   * disk. A prefixed copy built per call would be a new string to hash at every map lookup.
   */
  constructor(private readonly source: CounterSource) {}

  // ---- limits
  private log(key: string): Log {
    let l = this.logs.get(key);
    if (l) return l;
    l = new MemoryLog() as Log;
    const saved = this.source.log(key);
    if (saved) {
      for (const e of [...saved.entries].sort((a, b) => a.ts - b.ts)) l.add(e.ts, e.cost);
      l.sweepAt = saved.sweepAt;
    }
    this.logs.set(key, l);
    return l;
  }

  private logBatch(key: string): LogBatch {
    let b = this.batch.logs.get(key);
    if (!b) this.batch.logs.set(key, (b = { reset: false, entries: new Map(), sweepAt: this.logs.get(key)?.sweepAt ?? null }));
    return b;
  }

  limits(mode: LogMode, reqs: LimitRequest[], now: number): LogOutcome {
    // One adapter for every call (no closures per message), over this call's logs.
    const call = this.call;
    call.logs.length = 0;
    for (const r of reqs) call.logs.push(this.log(r.key));
    call.reqs = reqs;
    call.now = now;
    call.realNow = Date.now();
    return runSlidingLog(mode, reqs, now, this.adapter);
  }

  /** The limits() call running (synchronous, so one at a time). */
  private readonly call = { logs: [] as Log[], reqs: [] as LimitRequest[], now: 0, realNow: 0 };
  private readonly adapter = memoryAdapter(this.call.logs, {
    onTrim: (i, dropped) => {
      const b = this.logBatch(this.call.reqs[i]!.key);
      for (const ts of dropped) b.entries.set(ts, 0);
    },
    onAdd: (i, ts, entryCost) => {
      const { logs, reqs, now, realNow } = this.call;
      const l = logs[i]!;
      l.sweepAt = Math.max(l.sweepAt ?? 0, realNow + (l.expiresAt - now) + 1000);
      const b = this.logBatch(reqs[i]!.key);
      b.entries.set(ts, entryCost);
      b.sweepAt = l.sweepAt;
    },
  });

  resetLimits(keys: string[]): void {
    for (const k of keys) {
      this.logs.set(k, new MemoryLog());
      this.batch.logs.set(k, { reset: true, entries: new Map(), sweepAt: null });
    }
  }

  // ---- running sums
  private liveValue(key: string, realNow: number): { v: number; exp: number } | undefined {
    if (!this.valuesLoaded) {
      for (const [k, v] of this.source.values()) if (v.exp > realNow && !this.values.has(k)) this.values.set(k, v);
      this.valuesLoaded = true;
    }
    const cur = this.values.get(key);
    return cur && cur.exp > realNow ? cur : undefined;
  }

  /** The counter's value, or undefined when the key holds no live counter. */
  value(key: string): number | undefined {
    return this.liveValue(key, Date.now())?.v;
  }

  incr(key: string, by: number, ttlMs: number, ifExists = false): number {
    const realNow = Date.now();
    const cur = this.liveValue(key, realNow);
    if (!cur && ifExists) return Math.round(by);
    const next = { v: (cur?.v ?? 0) + Math.round(by), exp: realNow + ttlMs };
    this.values.set(key, next);
    this.batch.values.set(key, next);
    return next.v;
  }

  /** Forget a counter: a value is being written under its key, directly (it wins on disk). */
  dropValue(key: string): void {
    this.values.delete(key);
    this.batch.values.delete(key);
  }

  // ---- window sets
  private windowSet(key: string): WindowSet {
    let s = this.sets.get(key);
    if (s) return s;
    const saved = this.source.windowSet(key);
    const members = saved?.members ?? new Map<string, number>();
    let oldest = Infinity;
    for (const ts of members.values()) oldest = Math.min(oldest, ts);
    s = { members, oldest, exp: saved?.exp ?? 0 };
    this.sets.set(key, s);
    return s;
  }

  windowSetAdd(key: string, members: string[], windowMs: number, now: number): WindowSetAddResult {
    const fresh: string[] = [];
    return { size: this.addMembers(key, members, windowMs, now, fresh), fresh };
  }

  /** Like windowSetAdd, for a caller that only needs the size. */
  windowCount(key: string, members: string[], windowMs: number, now: number): number {
    return this.addMembers(key, members, windowMs, now);
  }

  /** Adds the members (their time is now) after dropping the expired ones → the live size. */
  private addMembers(key: string, members: string[], windowMs: number, now: number, fresh?: string[]): number {
    const s = this.windowSet(key);
    const cutoff = now - windowMs;
    /** This batch's writes to the set, once something changed. */
    let changed: Map<string, number> | undefined;
    if (s.oldest <= cutoff) {
      s.oldest = Infinity;
      for (const [m, ts] of s.members) {
        if (ts <= cutoff) {
          s.members.delete(m);
          (changed ??= this.setBatch(key)).set(m, 0);
        } else s.oldest = Math.min(s.oldest, ts);
      }
    }
    for (const m of members) {
      if (fresh && !s.members.has(m)) fresh.push(m);
      s.members.set(m, now);
      s.oldest = Math.min(s.oldest, now);
      (changed ??= this.setBatch(key)).set(m, now);
    }
    if (changed) {
      s.exp = Date.now() + windowMs + 1000;
      this.batch.sets.get(key)!.exp = s.members.size ? s.exp : null;
    }
    return s.members.size;
  }

  /** The members written to a set in the current batch. */
  private setBatch(key: string): Map<string, number> {
    let b = this.batch.sets.get(key);
    if (!b) this.batch.sets.set(key, (b = { members: new Map(), exp: null }));
    return b.members;
  }

  /** Drop from memory (and from disk at the next batch) what expired. */
  sweep(realNow = Date.now()): void {
    for (const [k, l] of this.logs) {
      if (l.size === 0 || (l.sweepAt !== undefined && l.sweepAt <= realNow)) {
        this.logs.delete(k);
        this.batch.logs.set(k, { reset: true, entries: new Map(), sweepAt: null });
      }
    }
    for (const [k, v] of this.values) {
      if (v.exp <= realNow) {
        this.values.delete(k);
        this.batch.values.set(k, null);
      }
    }
    for (const [k, s] of this.sets) {
      if (s.exp <= realNow) {
        this.sets.delete(k);
        this.batch.sets.set(k, { members: new Map(), exp: null });
      }
    }
  }

  /** Put back a batch that could not be written, under what changed since (newer wins). */
  restore(old: WriteBatch): void {
    const cur = this.batch;
    for (const [k, o] of old.logs) {
      const c = cur.logs.get(k);
      if (!c) cur.logs.set(k, o);
      else if (!c.reset) {
        c.reset = o.reset;
        for (const [ts, cost] of o.entries) if (!c.entries.has(ts)) c.entries.set(ts, cost);
      }
    }
    for (const [k, v] of old.values) if (!cur.values.has(k)) cur.values.set(k, v);
    for (const [k, o] of old.sets) {
      const c = cur.sets.get(k);
      if (!c) cur.sets.set(k, o);
      else if (c.exp !== null && o.exp !== null) for (const [m, ts] of o.members) if (!c.members.has(m)) c.members.set(m, ts);
    }
  }

  /** What changed since the last call (null when nothing did). */
  takeBatch(): WriteBatch | null {
    const b = this.batch;
    if (!b.logs.size && !b.values.size && !b.sets.size) return null;
    this.batch = emptyBatch();
    return b;
  }
}

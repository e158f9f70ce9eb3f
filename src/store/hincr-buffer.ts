/**
 * Hash counter increments batched in memory and written with one hincrMany per interval, for
 * counters that may lag a second (history, not limits): no store write on the per-message path.
 * What a failed flush could not write is kept (bounded) and retried with the next one.
 */
import type { Store } from './types.js';

export interface HincrBufferOptions {
  /** 0 disables the timer (call flush() yourself). Default 1000 ms. */
  flushIntervalMs?: number;
  /** Keys kept while the store is unreachable; beyond, the oldest batch is dropped. Default 10000. */
  maxKeys?: number;
  onError?: (err: unknown) => void;
}

interface Entry { fields: Record<string, number>; ttlMs: number }

export class HincrBuffer {
  private pendingMap = new Map<string, Entry>();
  /** The batch being written (still counted by pending() until the store has it). */
  private inflight = new Map<string, Entry>();
  private flushing?: Promise<void>;
  private readonly timer?: NodeJS.Timeout;

  constructor(private readonly store: Store, private readonly opts: HincrBufferOptions = {}) {
    const every = opts.flushIntervalMs ?? 1000;
    if (every > 0) this.timer = setInterval(() => void this.flush(), every).unref();
  }

  add(key: string, field: string, by: number, ttlMs: number): void {
    let e = this.pendingMap.get(key);
    if (!e) {
      if (this.pendingMap.size >= (this.opts.maxKeys ?? 10_000)) return;
      this.pendingMap.set(key, (e = { fields: {}, ttlMs }));
    }
    e.fields[field] = (e.fields[field] ?? 0) + by;
    e.ttlMs = Math.max(e.ttlMs, ttlMs);
  }

  /** Increments of `key` not yet written (to add to what the store returns). */
  pending(key: string): Record<string, number> {
    const a = this.pendingMap.get(key)?.fields;
    const b = this.inflight.get(key)?.fields;
    if (!a || !b) return { ...(a ?? b) };
    const sum = { ...a };
    for (const [f, n] of Object.entries(b)) sum[f] = (sum[f] ?? 0) + n;
    return sum;
  }

  flush(): Promise<void> {
    this.flushing ??= this.write().finally(() => (this.flushing = undefined));
    return this.flushing;
  }

  private async write(): Promise<void> {
    if (this.pendingMap.size === 0) return;
    const batch = this.pendingMap;
    this.pendingMap = new Map();
    this.inflight = batch;
    try {
      await this.store.hincrMany([...batch].map(([key, e]) => ({ key, fields: e.fields, ttlMs: e.ttlMs })));
      this.inflight = new Map();
    } catch (err) {
      this.inflight = new Map();
      // Put the batch back in front of what arrived meanwhile.
      for (const [key, e] of this.pendingMap) {
        const old = batch.get(key);
        if (!old) batch.set(key, e);
        else for (const [f, n] of Object.entries(e.fields)) old.fields[f] = (old.fields[f] ?? 0) + n;
      }
      this.pendingMap = batch;
      this.opts.onError?.(err);
    }
  }

  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.flush();
  }
}

/**
 * When this node last trimmed each Redis window set it only counts (CounterOp 'windowCount').
 * Trimming old members and renewing the key's expiry on every call is two of a count's four
 * Redis calls; once per 1/64 of the window is enough when the count itself only looks at live
 * members (ZCOUNT above the cutoff) and the expiry covers a granule more than the window:
 * whatever node renewed it last did so at most a granule before any add it did not renew for.
 */
const MAX_KEYS = 50_000;

export class WindowTrims {
  private readonly last = new Map<string, number>();

  static granule(windowMs: number): number {
    return Math.max(1000, Math.floor(windowMs / 64));
  }

  /** Expiry to set when trimming: the window plus a granule (see above), plus a second of clock slack. */
  static ttl(windowMs: number): number {
    return windowMs + WindowTrims.granule(windowMs) + 1000;
  }

  /** Whether the call at `now` should trim `key` (then counted as trimmed). */
  due(key: string, now: number, windowMs: number): boolean {
    const at = this.last.get(key);
    if (at !== undefined && now >= at && now - at < WindowTrims.granule(windowMs)) return false;
    // Forgetting only costs extra trims.
    if (at === undefined && this.last.size >= MAX_KEYS) this.last.clear();
    this.last.set(key, now);
    return true;
  }

  /** A failed call may not have trimmed: trim next time. */
  forget(key: string): void {
    this.last.delete(key);
  }
}

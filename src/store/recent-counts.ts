/**
 * Window-set sizes this node read lately from Redis, so that an op accepting a slightly old size
 * (CounterOp `staleMs`: a mailbox's distinct recipients today, its known domains) needs no round
 * trip. A reading answers an op when:
 * - the call that read it was sent at most `staleMs` ago. Adds by other nodes since then may be
 *   missing; this node's own never are: every reply updates the reading, and no answer is given
 *   while this node has an add to the key in flight;
 * - every member of the op was added by this node within the set's granule (WindowTrims): it is
 *   live in Redis and its time is at most a granule old, the precision the trims keep anyway.
 * So a local answer adds no member: the size is the reading's, and nothing needs writing.
 */
import { WindowTrims } from './window-trims.js';

const MAX_KEYS = 20_000;
/** Members remembered per set (a bulk sender's ops beyond it simply go to Redis). */
const MAX_MEMBERS = 512;

interface Reading {
  /** Local time the call that read `size` was sent (0: never read). */
  readAt: number;
  size: number;
  /** Members this node added, with the op time they were added at. */
  added: Map<string, number>;
  /** Calls in flight that add members to the set. */
  writing: number;
}

export class RecentCounts {
  private readonly sets = new Map<string, Reading>();

  constructor(private readonly clock: () => number = Date.now) {}

  /** The set's size if a reading may answer an op adding `members` at op time `now`, else undefined. */
  size(key: string, members: readonly string[], windowMs: number, now: number, staleMs: number): number | undefined {
    const r = this.sets.get(key);
    if (!r || r.writing > 0 || this.clock() - r.readAt > staleMs) return undefined;
    const granule = WindowTrims.granule(windowMs);
    for (const m of members) {
      const at = r.added.get(m);
      if (at === undefined || now < at || now - at >= granule) return undefined;
    }
    return r.size;
  }

  /** A call adding members to the set is sent (no local answer until its reply). */
  writing(key: string): void {
    this.entry(key).writing++;
  }

  /** A reply: the size read by a call sent at local time `sentAt`, which added `members` at op time `now`. */
  read(key: string, size: number, sentAt: number, members: readonly string[], now: number | undefined): void {
    const r = this.entry(key);
    if (members.length && r.writing > 0) r.writing--;
    if (sentAt >= r.readAt) {
      r.readAt = sentAt;
      r.size = size;
    }
    if (now === undefined) return;
    if (r.added.size + members.length > MAX_MEMBERS) r.added.clear();
    for (const m of members) r.added.set(m, now);
  }

  /** A call that failed: what it added is unknown, so the set is read again next time. */
  failed(key: string): void {
    this.sets.delete(key);
  }

  private entry(key: string): Reading {
    let r = this.sets.get(key);
    if (!r) {
      // Forgetting only costs round trips.
      if (this.sets.size >= MAX_KEYS) this.sets.clear();
      r = { readAt: 0, size: 0, added: new Map(), writing: 0 };
      this.sets.set(key, r);
    }
    return r;
  }
}

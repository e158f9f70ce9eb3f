/**
 * Body fingerprints this node has seen, for the bulk "same content" signal. Nearly all mail is
 * one of a kind, so a fingerprint stays here at first: the message's own distinct recipients are
 * its count, and the store is not asked. The second copy within the window takes the first
 * copy's recipients (with their time) to the store with its own, and from then on every copy
 * is counted there. On one node the count is the same as counting every copy in the store.
 * Across nodes, a copy that is the only one a node sees stays out of the count: the signal
 * detects mass mailing, it is not a quota, and one-off mail then costs the store nothing.
 * Bounded: past `max` fingerprints the oldest are forgotten (their next copy counts as a first).
 */
export type Sighting =
  /** First copy: count its own distinct recipients. */
  | { first: true }
  /** Count in the store; `earlier` = the first copy's recipients and time, to add before this one's. */
  | { first: false; earlier?: { recipients: string[]; at: number } };

interface Seen {
  /** Last copy's time: past it plus the window, nothing of this content is left in any count. */
  at: number;
  /** The first copy's recipients until a second copy takes them to the store. */
  firstRecipients?: string[];
}

export class FingerprintSightings {
  private readonly seen = new Map<string, Seen>();

  constructor(private readonly max = 100_000) {}

  see(key: string, recipients: string[], now: number, windowMs: number): Sighting {
    const s = this.seen.get(key);
    if (s) this.seen.delete(key);
    // Re-inserted last: the map's order is then least recently seen first.
    if (!s || now - s.at >= windowMs) {
      this.remember(key, { at: now, firstRecipients: recipients });
      return { first: true };
    }
    const earlier = s.firstRecipients && { recipients: s.firstRecipients, at: s.at };
    this.remember(key, { at: Math.max(now, s.at) });
    return { first: false, earlier };
  }

  get size(): number {
    return this.seen.size;
  }

  private remember(key: string, s: Seen): void {
    if (this.seen.size >= this.max) this.seen.delete(this.seen.keys().next().value!);
    this.seen.set(key, s);
  }
}

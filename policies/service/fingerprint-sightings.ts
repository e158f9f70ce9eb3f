/**
 * Body fingerprints this node has seen, for the bulk "same content" signal. Nearly all mail is
 * one of a kind, so a fingerprint stays here at first: the message's own distinct recipients are
 * its count, and the store is not asked. The second copy within the window takes the first
 * copy's recipients (with their time) to the store with its own, and from then on every copy
 * is counted there. On one node the count is the same as counting every copy in the store.
 * Across nodes, a copy that is the only one a node sees stays out of the count: the signal
 * detects mass mailing, it is not a quota, and one-off mail then costs the store nothing.
 * Bounded in bytes (the mailbox and the first copy's recipients come from mail, up to
 * smtp.max_recipients of them): at most `maxBytes`, in two generations of half that; when the
 * newer one is full, the older one is forgotten at once (their next copy counts as a first) and a sighting found in
 * the older one moves to the newer. (Evicting one oldest entry at a time from a Map costs V8 a
 * scan over every entry deleted before it: measured 65 µs per message at 100 000 fingerprints.)
 */
import type { BodyPrint } from '../types.js';

export type Sighting =
  /** First copy: count its own distinct recipients. */
  | { first: true }
  /** Count in the store; `earlier` = the first copy's recipients and time, to add before this one's. */
  | { first: false; earlier?: { recipients: string[]; at: number } };

interface Seen {
  /** Last copy's time: past it plus the window, nothing of this content is left in any count. */
  at: number;
  /** The rest of the identity (the map key holds 30 bits of h1 mixed with the sender's seed). */
  h2: number;
  length: number;
  mailbox: string;
  /** The first copy's recipients until a second copy takes them to the store. */
  firstRecipients?: string[];
}

/** The sender a fingerprint is counted for, and a number derived from it (SenderKeys.seed). */
export interface SightingSender {
  mailbox: string;
  seed: number;
}

/** A 30-bit number for a string (FNV-1a), to mix a sender into small-integer map keys. */
export function stringSeed(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h & 0x3fffffff;
}

/** Default bound: 16 MiB (100 000 sightings of one-recipient messages take about 14). */
export const SIGHTINGS_MAX_BYTES = 16 * 1024 * 1024;

/** Estimated bytes of one sighting: the record, its mailbox and the first copy's recipients. */
export function sightingBytes(mailbox: string, recipients: readonly string[] | undefined): number {
  let n = 96 + 2 * mailbox.length;
  if (recipients) for (const r of recipients) n += 16 + 2 * r.length;
  return n;
}

export class FingerprintSightings {
  // Small-integer keys: a string key built per message costs a flatten and a hash at each
  // lookup, several times the whole sighting with integer keys. Two fingerprints sharing a key
  // are told apart by the rest of their identity: the newer one replaces the older (which loses
  // one sighting, nothing more).
  private current = new Map<number, Seen>();
  private previous = new Map<number, Seen>();
  /** Estimated bytes of the newer generation (the older one holds at most as much). */
  private currentBytes = 0;

  constructor(private readonly maxBytes = SIGHTINGS_MAX_BYTES) {}

  see(sender: SightingSender, fp: BodyPrint, recipients: string[], now: number, windowMs: number): Sighting {
    const key = (fp.h1 ^ sender.seed) & 0x3fffffff;
    let s = this.current.get(key);
    if (s === undefined) {
      s = this.previous.get(key);
      if (s !== undefined) this.previous.delete(key);
    }
    const same = s !== undefined && s.h2 === fp.h2 && s.length === fp.length && s.mailbox === sender.mailbox;
    if (!same || now - s!.at >= windowMs) {
      this.remember(key, { at: now, h2: fp.h2, length: fp.length, mailbox: sender.mailbox, firstRecipients: recipients });
      return { first: true };
    }
    const earlier = s!.firstRecipients && { recipients: s!.firstRecipients, at: s!.at };
    this.remember(key, { at: Math.max(now, s!.at), h2: fp.h2, length: fp.length, mailbox: sender.mailbox });
    return { first: false, earlier };
  }

  get size(): number {
    return this.current.size + this.previous.size;
  }

  /** Estimated bytes held (both generations). */
  get bytes(): number {
    return this.currentBytes + this.previousBytes;
  }

  private previousBytes = 0;

  private remember(key: number, s: Seen): void {
    // A key replaced within the generation is charged twice: it only brings the switch nearer.
    this.current.set(key, s);
    this.currentBytes += sightingBytes(s.mailbox, s.firstRecipients);
    if (this.currentBytes >= this.maxBytes / 2) {
      this.previous = this.current;
      this.previousBytes = this.currentBytes;
      this.current = new Map();
      this.currentBytes = 0;
    }
  }
}

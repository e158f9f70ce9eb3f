/**
 * Quota credits (Redis store): while a large limit has plenty of room, a node charges it for
 * more than the message at hand and spends the surplus locally, without a store round trip for
 * that limit, until the end of the granule the surplus was charged in. Charges of one granule
 * share one log entry anyway (see chargeTime in sliding-log.ts), so a credit spent within its
 * granule is exactly the charge the message would have made: no window ever holds more than its
 * limit, on any number of nodes. What a granule leaves unspent is given back.
 *
 * The price: until it is given back, unspent credit counts as used (usage readouts include it),
 * and another node may be refused while this one holds credit. Both are bounded: only limits of
 * at least MIN_LIMIT units over windows of at least MIN_WINDOW_MS take credit, a credit is at
 * most 1/64 of the room left (nothing near the limit), and it lives one granule (≤ 1/1000 of the
 * window). Times are on the Redis clock, estimated from above (see observeClock), so a credit is
 * never spent after its granule has ended.
 */
import type { LimitRequest } from './types.js';

export const MIN_LIMIT = 1000;
export const MIN_WINDOW_MS = 1_000_000;
const FIRST_CREDIT = 16;
const MAX_CREDIT = 1024;
const ROOM_SHARE = 64;
/** Stop spending this long before the granule ends (covers the time until the charge is final). */
const SAFETY_MS = 20;

interface Credit {
  /** End of the granule the credit was charged in (Redis ms): its log entry. */
  entry: number;
  left: number;
  /** Usage of the limit when the credit was granted (credit included). */
  used: number;
}

export interface ExpiredCredit {
  key: string;
  entry: number;
  left: number;
}

export class CreditBook {
  private readonly credits = new Map<string, Credit>();
  /** Next credit size per key: doubles when a credit runs out within its granule. */
  private readonly sizes = new Map<string, number>();
  /** Usage the store last reported per key (sizes the next credit). */
  private readonly lastUsed = new Map<string, number>();
  /** Units to give back to the store whose credit is gone. */
  private returns: ExpiredCredit[] = [];
  /** Upper bound of (Redis clock − local clock), from the last reply. */
  private offset = Number.POSITIVE_INFINITY;

  constructor(private readonly localNow: () => number = Date.now) {}

  static eligible(r: LimitRequest): boolean {
    return r.limit >= MIN_LIMIT && r.windowMs >= MIN_WINDOW_MS;
  }

  /**
   * A script that started after local time `sentAt` read `redisNow` on the Redis clock, so the
   * Redis clock is at most `redisNow − sentAt` ahead of ours.
   */
  observeClock(redisNow: number, sentAt: number): void {
    this.offset = redisNow - sentAt;
  }

  /** The Redis clock now, never underestimated (Infinity before any reply: nothing is spendable). */
  redisNow(): number {
    return this.localNow() + this.offset;
  }

  /** Whether a credit charged to this entry may still be spent (its granule is not over). */
  private live(entry: number): boolean {
    return this.redisNow() + SAFETY_MS <= entry;
  }

  /**
   * Spends `cost` of the key's credit if it has that much and its granule is not over; returns the
   * entry it was charged to (to give it back there), or undefined.
   */
  take(key: string, cost: number): number | undefined {
    const c = this.credits.get(key);
    if (!c || c.left < cost || !this.live(c.entry)) return undefined;
    c.left -= cost;
    if (c.left === 0) {
      this.credits.delete(key);
      this.sizes.set(key, Math.min(MAX_CREDIT, (this.sizes.get(key) ?? FIRST_CREDIT) * 2));
    }
    return c.entry;
  }

  /** Returns credit taken for a message that was not charged after all (refused, or bulk). */
  giveBack(key: string, cost: number, entry: number): void {
    const c = this.credits.get(key);
    if (c && c.entry === entry) c.left += cost;
    else if (!c && this.live(entry)) this.credits.set(key, { entry, left: cost, used: 0 });
    // Its credit is gone (spent out, or its granule over): those units go back to the store.
    else this.returns.push({ key, entry, left: cost });
  }

  /** Usage reported for a limit paid from credit: as of the grant, credit included. */
  usedOf(key: string): number {
    return this.credits.get(key)?.used ?? 0;
  }

  /** Extra units to ask for with a charge of `cost`, given the room the store reported last. */
  wanted(r: LimitRequest, key: string): number {
    if (!CreditBook.eligible(r)) return 0;
    const c = this.credits.get(key);
    if (c && c.left >= r.cost && this.live(c.entry)) return 0;
    const room = r.limit - (this.lastUsed.get(key) ?? 0) - r.cost;
    return Math.max(0, Math.min(this.sizes.get(key) ?? FIRST_CREDIT, Math.floor(room / ROOM_SHARE)));
  }

  /** After a charge: the usage the store reported, and the credit it granted (0 = none). */
  charged(key: string, used: number, granted: number, entry: number): void {
    this.lastUsed.set(key, used);
    if (granted <= 0) return;
    const c = this.credits.get(key);
    if (c && c.entry === entry) {
      c.left += granted;
      c.used = used;
      return;
    }
    // A credit of an earlier granule is replaced: what it has left goes back.
    if (c && c.left > 0) this.returns.push({ key, entry: c.entry, left: c.left });
    this.credits.set(key, { entry, left: granted, used });
  }

  /** Credits whose granule is over (removed from the book): their unspent units go back. */
  expired(): ExpiredCredit[] {
    const out = this.returns;
    this.returns = [];
    for (const [key, c] of this.credits) {
      if (this.live(c.entry)) continue;
      this.credits.delete(key);
      // Unspent at the end of its granule: the next one starts small again.
      this.sizes.delete(key);
      if (c.left > 0) out.push({ key, entry: c.entry, left: c.left });
    }
    return out;
  }

  /** After a usage reset: the key's credit and last usage are gone. */
  forget(key: string): void {
    this.credits.delete(key);
    this.lastUsed.delete(key);
  }

  /** Every credit (at close: all go back). */
  drain(): ExpiredCredit[] {
    const out = [...this.returns, ...[...this.credits].filter(([, c]) => c.left > 0).map(([key, c]) => ({ key, entry: c.entry, left: c.left }))];
    this.credits.clear();
    this.returns = [];
    return out;
  }
}

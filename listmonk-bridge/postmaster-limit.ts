/**
 * How much mail to postmaster@ the bounce domain is forwarded. That address takes mail from
 * anyone (RFC 5321 §4.5.1), so without a bound an outsider could have Relais forward whatever
 * it sends to the person behind listmonk.postmaster_forward. Per sliding hour: at most
 * POSTMASTER_PER_ADDRESS messages from one client address and POSTMASTER_TOTAL in all; past that
 * the answer is 450 4.7.1 and a real sender retries later. Counted in this node's memory, in
 * bytes (one entry per client address, at most that many times each).
 */
import { BoundedMap } from '../src/util/bounded-map.js';

export const POSTMASTER_PER_ADDRESS = 10;
export const POSTMASTER_TOTAL = 100;
const WINDOW_MS = 3_600_000;
const ADDRESSES_BYTES = 1024 * 1024;

export class PostmasterLimit {
  private readonly byAddress = new BoundedMap<number[]>(ADDRESSES_BYTES, (times) => 16 + 8 * times.length);
  private all: number[] = [];

  constructor(
    private readonly perAddress = POSTMASTER_PER_ADDRESS,
    private readonly total = POSTMASTER_TOTAL,
  ) {}

  /** Counts one message from `address` when there is room; false when either bound is reached. */
  take(address: string, now = Date.now()): boolean {
    const since = now - WINDOW_MS;
    this.all = this.all.filter((t) => t > since);
    const mine = (this.byAddress.get(address) ?? []).filter((t) => t > since);
    if (this.all.length >= this.total || mine.length >= this.perAddress) return false;
    mine.push(now);
    this.all.push(now);
    this.byAddress.set(address, mine);
    return true;
  }
}

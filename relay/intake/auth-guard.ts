/**
 * AUTH failures counted like an MTA exposed to the Internet does (Postfix anvil, fail2ban):
 *
 * - per client address: past `failuresPerAddress` failures within `windowMs`, the address is
 *   refused (421 4.7.0, connection closed, no scrypt run) for `coolOffMs`. IPv6 addresses count
 *   per /64, the block one host usually holds, so rotating through it gains nothing;
 * - per user name: past `failuresPerUser` failures within `windowMs` (a guess spread over many
 *   addresses), that name is refused for `coolOffMs`, but only from addresses where it has not
 *   authenticated successfully before. An attacker can thus not lock Mailcow out: Mailcow's own
 *   address keeps working, and the attacker cannot add failures to that address. Only a real
 *   client moving to a new address during an attack waits (a temporary 454, which MTAs retry);
 * - per connection: the intake closes a connection after `failuresPerConnection` failures.
 *
 * Memory is bounded: at most `maxEntries` addresses and as many user names are tracked, the
 * least recently touched forgotten first; each user remembers at most KNOWN_PER_USER addresses.
 * Counters live in this process (each node counts its own clients).
 */
import ipaddr from 'ipaddr.js';

export interface AuthGuardOptions {
  failuresPerAddress: number;
  failuresPerUser: number;
  failuresPerConnection: number;
  windowMs: number;
  coolOffMs: number;
  /** Addresses (and, separately, user names) tracked at most. Default 20 000. */
  maxEntries?: number;
}

export type AuthGate = 'ok' | 'address-blocked' | 'user-locked';

interface Counter {
  windowStart: number;
  failures: number;
  blockedUntil: number;
}

const KNOWN_PER_USER = 16;
/** Longer names are counted by their first bytes (SASL allows long names; memory must not grow). */
const MAX_USER_KEY = 320;

/** The unit counted for a client address: IPv4 as is (IPv4-mapped IPv6 included), IPv6 per /64. */
export function addressKey(ip: string): string {
  let a: ipaddr.IPv4 | ipaddr.IPv6;
  try {
    a = ipaddr.process(ip);
  } catch {
    return ip.slice(0, 64);
  }
  if (a.kind() === 'ipv4') return a.toString();
  const parts = (a as ipaddr.IPv6).parts.slice(0, 4);
  return `${parts.map((p) => p.toString(16)).join(':')}::/64`;
}

/** A Map used as a bounded LRU: touching an entry moves it to the end, the oldest go first. */
class Bounded<V> {
  private readonly map = new Map<string, V>();
  constructor(private readonly max: number) {}
  get(key: string): V | undefined {
    const v = this.map.get(key);
    if (v !== undefined) {
      this.map.delete(key);
      this.map.set(key, v);
    }
    return v;
  }
  set(key: string, v: V): void {
    this.map.delete(key);
    this.map.set(key, v);
    while (this.map.size > this.max) this.map.delete(this.map.keys().next().value!);
  }
  get size(): number {
    return this.map.size;
  }
}

export class AuthGuard {
  private readonly addresses: Bounded<Counter>;
  private readonly users: Bounded<Counter>;
  /** Addresses (keys) each user name has authenticated from. */
  private readonly addressesOf: Bounded<string[]>;

  constructor(private readonly opts: AuthGuardOptions) {
    const max = opts.maxEntries ?? 20_000;
    this.addresses = new Bounded(max);
    this.users = new Bounded(max);
    this.addressesOf = new Bounded(max);
  }

  get failuresPerConnection(): number {
    return this.opts.failuresPerConnection;
  }

  get coolOffMs(): number {
    return this.opts.coolOffMs;
  }

  /** Whether AUTH may be attempted at all from this address (checked before reading credentials). */
  addressBlocked(ip: string, now = Date.now()): boolean {
    return this.blockedFor(ip, now) > 0;
  }

  /** How long this address stays blocked (ms; 0 = not blocked). */
  blockedFor(ip: string, now = Date.now()): number {
    const c = this.addresses.get(addressKey(ip));
    return c ? Math.max(0, c.blockedUntil - now) : 0;
  }

  /** Whether this user has authenticated from this address (its usual client). */
  known(ip: string, user: string): boolean {
    return (this.addressesOf.get(user.slice(0, MAX_USER_KEY)) ?? []).includes(addressKey(ip));
  }

  /** Whether this attempt may run scrypt: the address is not blocked, the user not locked for it. */
  gate(ip: string, user: string, now = Date.now()): AuthGate {
    if (this.addressBlocked(ip, now)) return 'address-blocked';
    const u = this.users.get(user.slice(0, MAX_USER_KEY));
    if (u && u.blockedUntil > now && !this.known(ip, user)) return 'user-locked';
    return 'ok';
  }

  /** Counts a failure (against the user name too when given); true when the address is now blocked. */
  failure(ip: string, user?: string, now = Date.now()): boolean {
    if (user !== undefined) this.count(this.users, user.slice(0, MAX_USER_KEY), this.opts.failuresPerUser, now);
    return this.count(this.addresses, addressKey(ip), this.opts.failuresPerAddress, now);
  }

  /** Remembers the address as one this user authenticates from (exempt from its user lock). */
  success(ip: string, user: string): void {
    const key = user.slice(0, MAX_USER_KEY);
    const addr = addressKey(ip);
    const list = (this.addressesOf.get(key) ?? []).filter((a) => a !== addr);
    list.push(addr);
    this.addressesOf.set(key, list.slice(-KNOWN_PER_USER));
  }

  /** Tracked addresses and user names (for tests and metrics). */
  tracked(): { addresses: number; users: number } {
    return { addresses: this.addresses.size, users: this.users.size };
  }

  private count(map: Bounded<Counter>, key: string, limit: number, now: number): boolean {
    let c = map.get(key);
    if (!c || now - c.windowStart >= this.opts.windowMs) c = { windowStart: now, failures: 0, blockedUntil: c?.blockedUntil ?? 0 };
    c.failures++;
    if (c.failures >= limit) {
      c.blockedUntil = now + this.opts.coolOffMs;
      // The cooling-off starts a new count: its end is not followed by an immediate re-block.
      c.windowStart = now;
      c.failures = 0;
    }
    map.set(key, c);
    return c.blockedUntil > now;
  }
}

/** Which destination addresses Relais may connect to. */
import ipaddr from 'ipaddr.js';

/** Never connectable, whatever the options. */
const INVALID = new Set(['unspecified', 'broadcast', 'multicast']);
/** Internal networks: refused for MX delivery unless allowPrivateMx (the smarthost is exempt). */
const INTERNAL = new Set(['loopback', 'private', 'linkLocal', 'uniqueLocal', 'carrierGradeNat']);

export type AddressClass = 'public' | 'internal' | 'invalid';

export function classifyAddress(ip: string): AddressClass {
  let addr: ipaddr.IPv4 | ipaddr.IPv6;
  try {
    addr = ipaddr.parse(ip);
  } catch {
    return 'invalid';
  }
  if (addr.kind() === 'ipv6' && (addr as ipaddr.IPv6).isIPv4MappedAddress()) {
    addr = (addr as ipaddr.IPv6).toIPv4Address();
  }
  const range = addr.range();
  if (INVALID.has(range)) return 'invalid';
  if (INTERNAL.has(range)) return 'internal';
  return 'public';
}

/**
 * The domain of an address and a domain's one comparable form, for every part of Relais (intake
 * policies, DKIM keys, delivery routing, tenants). Domains are compared in their ASCII (punycode)
 * form from url.domainToASCII, so a Unicode look-alike (Cyrillic "а" in "lаruche.example") never
 * equals the real domain, and full-width or upper-case variants fold to it.
 */
import { domainToASCII } from 'node:url';
import { memoize } from './memo.js';

/** The lower-case domain part of an address (after the last @), or '' when it has none. */
export function domainOf(address: string): string {
  const at = address.lastIndexOf('@');
  return at > 0 ? address.slice(at + 1).toLowerCase() : '';
}

/** Lower-case ASCII form of a domain, or null when it isn't a valid domain name (domainToASCII is not cheap: memoised). */
export const normalizeDomain: (domain: string) => string | null = memoize(toAsciiDomain);

function toAsciiDomain(domain: string): string | null {
  const d = domain.trim().replace(/\.$/, '');
  if (!d || d.startsWith('[')) return null; // address literals never belong to a tenant
  const ascii = domainToASCII(d.toLowerCase());
  if (!ascii || !ascii.includes('.') || /[^a-z0-9.-]/.test(ascii)) return null;
  // domainToASCII keeps empty and over-long labels ("a..b"); RFC 1035 §2.3.4: 1–63 bytes per label, 253 in all.
  if (ascii.length > 253 || ascii.split('.').some((l) => l.length === 0 || l.length > 63)) return null;
  return ascii;
}

/**
 * Address helpers for the sender checks. Domains are compared in their ASCII (punycode) form from
 * url.domainToASCII, so a Unicode look-alike (Cyrillic "а" in "lаruche.example") never equals the
 * real domain, and full-width or upper-case variants fold to it.
 */
import { domainToASCII } from 'node:url';
import { memoize } from '../src/util/memo.js';

/** Lower-case ASCII form of a domain, or null when it isn't a valid domain name (domainToASCII is not cheap: memoised). */
export const normalizeDomain: (domain: string) => string | null = memoize(toAsciiDomain);

function toAsciiDomain(domain: string): string | null {
  const d = domain.trim().replace(/\.$/, '');
  if (!d || d.startsWith('[')) return null; // address literals never belong to a tenant
  const ascii = domainToASCII(d.toLowerCase());
  if (!ascii || !ascii.includes('.') || /[^a-z0-9.-]/.test(ascii)) return null;
  return ascii;
}

/** The domain part of an address (after the last @), or null. */
export function domainOf(address: string): string | null {
  const at = address.lastIndexOf('@');
  return at > 0 && at < address.length - 1 ? address.slice(at + 1) : null;
}

/** Address with its domain normalised (local part lower-cased too: used as a counter key). */
export const normalizeAddress: (address: string) => string | null = memoize(toNormalAddress);

function toNormalAddress(address: string): string | null {
  const a = address.trim().replace(/^<|>$/g, '');
  const d = domainOf(a);
  const nd = d === null ? null : normalizeDomain(d);
  return nd === null ? null : `${a.slice(0, a.lastIndexOf('@')).toLowerCase()}@${nd}`;
}

/**
 * Addresses of an address-list header (From:). Display names, quoted strings and comments are
 * skipped, so `"ceo@other.org" <x@mine.org>` yields only x@mine.org. Groups are flattened.
 * Memoised (a sender writes the same From: on every message), so the list is read only.
 */
export const parseAddressList: (value: string) => readonly string[] = memoize((value) => Object.freeze(parseList(value)));

function parseList(value: string): string[] {
  const out: string[] = [];
  let current = '';
  let angle: string | null = null;
  let i = 0;
  const flush = (): void => {
    const a = (angle ?? current).trim();
    if (a.includes('@')) out.push(a.replace(/\s+/g, ''));
    current = '';
    angle = null;
  };
  while (i < value.length) {
    const c = value[i];
    if (c === '"') {
      // quoted string: display name or quoted local part
      let j = i + 1;
      let text = '';
      while (j < value.length && value[j] !== '"') { if (value[j] === '\\') j++; text += value[j] ?? ''; j++; }
      if (angle === null) current += value[j + 1] === '@' || current.endsWith('@') ? `"${text}"` : ' ';
      i = j + 1;
    } else if (c === '(') {
      let depth = 1;
      i++;
      while (i < value.length && depth > 0) {
        if (value[i] === '\\') i++;
        else if (value[i] === '(') depth++;
        else if (value[i] === ')') depth--;
        i++;
      }
    } else if (c === '<') {
      const end = value.indexOf('>', i);
      angle = value.slice(i + 1, end < 0 ? undefined : end);
      i = end < 0 ? value.length : end + 1;
    } else if (c === ',' || c === ';') {
      flush();
      i++;
    } else if (c === ':') {
      current = ''; // group name
      i++;
    } else {
      if (angle === null) current += c;
      i++;
    }
  }
  flush();
  return out;
}

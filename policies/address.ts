/**
 * Address helpers for the sender checks. Domains are compared in their ASCII (punycode) form from
 * url.domainToASCII, so a Unicode look-alike (Cyrillic "а" in "lаruche.example") never equals the
 * real domain, and full-width or upper-case variants fold to it.
 */
import { domainToASCII } from 'node:url';

/** Domains seen lately (every message names a few; domainToASCII is not cheap). Same answers. */
const seen = new Map<string, string | null>();
const SEEN_MAX = 10_000;

/** Lower-case ASCII form of a domain, or null when it isn't a valid domain name. */
export function normalizeDomain(domain: string): string | null {
  let n = seen.get(domain);
  if (n === undefined) {
    if (seen.size >= SEEN_MAX) seen.clear();
    seen.set(domain, (n = toAsciiDomain(domain)));
  }
  return n;
}

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

/**
 * Addresses seen lately: a sender's every message names it again, and the same string back
 * (not an equal one built anew) keeps its hash for the maps it keys downstream.
 */
const seenAddresses = new Map<string, string | null>();

/** Address with its domain normalised (local part lower-cased too: used as a counter key). */
export function normalizeAddress(address: string): string | null {
  let n = seenAddresses.get(address);
  if (n === undefined) {
    if (seenAddresses.size >= SEEN_MAX) seenAddresses.clear();
    seenAddresses.set(address, (n = toNormalAddress(address)));
  }
  return n;
}

function toNormalAddress(address: string): string | null {
  const a = address.trim().replace(/^<|>$/g, '');
  const d = domainOf(a);
  const nd = d === null ? null : normalizeDomain(d);
  return nd === null ? null : `${a.slice(0, a.lastIndexOf('@')).toLowerCase()}@${nd}`;
}

/** From: headers seen lately (a sender writes the same one on every message). */
const seenLists = new Map<string, readonly string[]>();

/**
 * Addresses of an address-list header (From:). Display names, quoted strings and comments are
 * skipped, so `"ceo@other.org" <x@mine.org>` yields only x@mine.org. Groups are flattened.
 */
export function parseAddressList(value: string): readonly string[] {
  let list = seenLists.get(value);
  if (list === undefined) {
    if (seenLists.size >= SEEN_MAX) seenLists.clear();
    seenLists.set(value, (list = Object.freeze(parseList(value))));
  }
  return list;
}

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

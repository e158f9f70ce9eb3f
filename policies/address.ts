/**
 * Address helpers for the sender checks: addresses keyed by their normalised domain
 * (src/util/domain.ts), and the addresses of a From: header.
 */
import { memoize } from '../src/util/memo.js';
import { domainOf, normalizeDomain } from '../src/util/domain.js';

/** Address with its domain normalised (local part lower-cased too: used as a counter key). */
export const normalizeAddress: (address: string) => string | null = memoize(toNormalAddress);

function toNormalAddress(address: string): string | null {
  const a = address.trim().replace(/^<|>$/g, '');
  const nd = normalizeDomain(domainOf(a));
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

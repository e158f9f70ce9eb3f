/**
 * A pure function of a string, answering from the strings it saw lately: mail names the same
 * domains, senders and From: headers message after message, and the same answer back (not an
 * equal string built anew) keeps its hash for the maps it keys downstream.
 *
 * The keys come from mail, so what is held is bounded in bytes, not entries: at most `maxBytes`
 * of keys and answers (a BoundedMap, forgotten all at once when full); a key longer than
 * `maxKeyLength` is answered but never held (a real domain, address or From: header is far
 * shorter). `fn` must not return undefined.
 */
import { BoundedMap } from './bounded-map.js';

/** Default bound of each memo (documented in docs/security.md). */
export const MEMO_MAX_BYTES = 1024 * 1024;
/** Default longest key held. */
export const MEMO_MAX_KEY_LENGTH = 1024;

export interface MemoOptions {
  maxBytes?: number;
  maxKeyLength?: number;
}

export interface Memoized<T> {
  (s: string): T;
  /** Estimated bytes held now (never above maxBytes). */
  readonly bytes: number;
}

export function memoize<T>(fn: (s: string) => T, opts: MemoOptions = {}): Memoized<T> {
  const maxKey = opts.maxKeyLength ?? MEMO_MAX_KEY_LENGTH;
  const seen = new BoundedMap<T>(opts.maxBytes ?? MEMO_MAX_BYTES);
  const memo = ((s: string): T => {
    let v = seen.get(s);
    if (v === undefined) {
      v = fn(s);
      if (s.length <= maxKey) seen.set(s, v);
    }
    return v;
  }) as Memoized<T>;
  Object.defineProperty(memo, 'bytes', { get: () => seen.bytes });
  return memo;
}

/**
 * A pure function of a string, answering from the strings it saw lately: mail names the same
 * domains, senders and From: headers message after message, and the same answer back (not an
 * equal string built anew) keeps its hash for the maps it keys downstream.
 *
 * The keys come from mail, so what is held is bounded in bytes, not entries: at most `maxBytes`
 * (keys and answers, estimated at two bytes a character plus a fixed cost per entry), forgotten
 * all at once when full (a Map evicting its oldest entry one at a time costs V8 a scan over every
 * entry deleted before it); a key longer than `maxKeyLength` is answered but never held (a real
 * domain, address or From: header is far shorter). `fn` must not return undefined.
 */

/** Default bound of each memo (documented in the README's security section). */
export const MEMO_MAX_BYTES = 1024 * 1024;
/** Default longest key held. */
export const MEMO_MAX_KEY_LENGTH = 1024;

/** Map entry, string headers and hash: a rough fixed cost per remembered answer. */
const ENTRY_BYTES = 64;

export interface MemoOptions {
  maxBytes?: number;
  maxKeyLength?: number;
}

export interface Memoized<T> {
  (s: string): T;
  /** Estimated bytes held now (never above maxBytes). */
  readonly bytes: number;
}

/** Estimated size of an answer: strings, lists of them, and small scalars. */
function sizeOf(v: unknown): number {
  if (typeof v === 'string') return 2 * v.length;
  if (Array.isArray(v)) return v.reduce((n: number, x) => n + 8 + sizeOf(x), 16);
  return 8;
}

export function memoize<T>(fn: (s: string) => T, opts: MemoOptions = {}): Memoized<T> {
  const maxBytes = opts.maxBytes ?? MEMO_MAX_BYTES;
  const maxKey = opts.maxKeyLength ?? MEMO_MAX_KEY_LENGTH;
  const seen = new Map<string, T>();
  let bytes = 0;
  const memo = ((s: string): T => {
    let v = seen.get(s);
    if (v === undefined) {
      v = fn(s);
      if (s.length > maxKey) return v;
      const cost = ENTRY_BYTES + 2 * s.length + sizeOf(v);
      if (bytes + cost > maxBytes) {
        seen.clear();
        bytes = 0;
      }
      if (cost <= maxBytes) {
        seen.set(s, v);
        bytes += cost;
      }
    }
    return v;
  }) as Memoized<T>;
  Object.defineProperty(memo, 'bytes', { get: () => bytes });
  return memo;
}

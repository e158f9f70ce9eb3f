/**
 * A pure function of a string, answering from the strings it saw lately: mail names the same
 * domains, senders and From: headers message after message, and the same answer back (not an
 * equal string built anew) keeps its hash for the maps it keys downstream. At most `max`
 * answers, forgotten all at once when full (a Map evicting its oldest entry one at a time costs
 * V8 a scan over every entry deleted before it). `fn` must not return undefined.
 */
export function memoize<T>(fn: (s: string) => T, max = 10_000): (s: string) => T {
  const seen = new Map<string, T>();
  return (s) => {
    let v = seen.get(s);
    if (v === undefined) {
      if (seen.size >= max) seen.clear();
      seen.set(s, (v = fn(s)));
    }
    return v;
  };
}

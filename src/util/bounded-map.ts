/**
 * A string-keyed map bounded in bytes, for caches whose keys come from mail (domains, senders,
 * From: headers): what it holds is estimated per entry (`sizeOf`, or two bytes a character of the
 * key and of string answers, plus a fixed cost), and when the next entry would pass `maxBytes`
 * everything is forgotten at once (a Map evicting its oldest entry one at a time costs V8 a scan
 * over every entry deleted before it). An entry larger than the bound itself is never held.
 */

/** Map entry, string headers and hash: a rough fixed cost per entry. */
const ENTRY_BYTES = 64;

/** Estimated size of a value: strings, lists and plain objects of them, and small scalars. */
export function approxBytes(v: unknown, depth = 0): number {
  if (typeof v === 'string') return 2 * v.length;
  if (v === null || typeof v !== 'object' || depth > 4) return 8;
  let n = 16;
  if (Array.isArray(v)) for (const x of v) n += 8 + approxBytes(x, depth + 1);
  else for (const [k, x] of Object.entries(v)) n += 8 + 2 * k.length + approxBytes(x, depth + 1);
  return n;
}

export class BoundedMap<V> {
  private readonly map = new Map<string, V>();
  private used = 0;

  constructor(
    readonly maxBytes: number,
    private readonly sizeOf: (value: V) => number = approxBytes,
  ) {}

  /** Estimated bytes held now (never above maxBytes). */
  get bytes(): number {
    return this.used;
  }

  get size(): number {
    return this.map.size;
  }

  get(key: string): V | undefined {
    return this.map.get(key);
  }

  set(key: string, value: V): void {
    const cost = ENTRY_BYTES + 2 * key.length + this.sizeOf(value);
    if (cost > this.maxBytes) return;
    // A key set again is charged again: rare (refreshes), and it only brings the clear nearer.
    if (this.used + cost > this.maxBytes) this.clear();
    this.map.set(key, value);
    this.used += cost;
  }

  /** Counts `bytes` more for an entry that grew after it was set (cleared when that passes the bound). */
  charge(bytes: number): void {
    this.used += bytes;
    if (this.used > this.maxBytes) this.clear();
  }

  delete(key: string): boolean {
    return this.map.delete(key);
  }

  clear(): void {
    this.map.clear();
    this.used = 0;
  }
}

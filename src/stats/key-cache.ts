/**
 * The bucket keys and hash fields the recorder writes, built once and handed back as the same
 * strings: every message names the same few buckets, ids and metrics, and a string built anew
 * (a template per call) had to be flattened and hashed again at each HincrBuffer lookup
 * (~10 µs per message for a verdict's 16 increments). Keys are kept for their bucket's hour or
 * day; fields (ids are recipient domains and senders, which come from mail) until FIELDS_MAX_BYTES
 * are held, then forgotten at once; verdict metrics for good.
 */
import { memoize } from '../util/memo.js';
import { bucketKey, bucketStart, cleanPart, field, scopeOf, type Dimension, type Granularity } from './buckets.js';

/** Bound of the field strings held (estimated at two bytes a character, 64 a field). */
export const FIELDS_MAX_BYTES = 4 * 1024 * 1024;

/** A map of maps, two string levels deep. */
function nested<V>(outer: Map<string, Map<string, V>>, a: string, b: string, make: () => V): V {
  let inner = outer.get(a);
  if (!inner) outer.set(a, (inner = new Map()));
  let v = inner.get(b);
  if (v === undefined) inner.set(b, (v = make()));
  return v;
}

export class StatsKeys {
  private readonly keys: Record<Granularity, { start: number; byScope: Map<string, Map<string, string>> }> = {
    hour: { start: NaN, byScope: new Map() },
    day: { start: NaN, byScope: new Map() },
  };
  private fields = new Map<string, Map<string, string>>();
  /** Estimated bytes held in `fields`. */
  fieldBytes = 0;

  /** bucketKey(g, at, scope, dim), the same string for every record of the bucket. */
  bucket(g: Granularity, at: number, scope: string, dim: Dimension): string {
    const k = this.keys[g];
    const start = bucketStart(at, g);
    if (start !== k.start) {
      k.start = start;
      k.byScope = new Map();
    }
    return nested(k.byScope, scope, dim, () => bucketKey(g, at, scope, dim));
  }

  /** field(id, metric), the same string for every record. */
  field(id: string, metric: string): string {
    if (this.fieldBytes >= FIELDS_MAX_BYTES - 64 - 4 * (id.length + metric.length)) {
      this.fields = new Map();
      this.fieldBytes = 0;
    }
    return nested(this.fields, metric, id, () => {
      // The id as key, the field built from it.
      this.fieldBytes += 64 + 4 * id.length + 2 * metric.length;
      return field(id, metric);
    });
  }

  private readonly verdicts = new Map<string, Map<string, Record<string, number>>>();

  /** The metrics a verdict counts (actions and reasons are a fixed set: kept for good). */
  verdictMetrics(action: string, reason: string | undefined): Record<string, number> {
    return nested(this.verdicts, action, reason ?? '', () => {
      const a = cleanPart(action);
      return reason ? { [`verdict:${a}`]: 1, [`verdict:${a}:${cleanPart(reason)}`]: 1 } : { [`verdict:${a}`]: 1 };
    });
  }

  /** scopeOf(tenant) for a tenant. */
  readonly scope: (tenant: string) => string = memoize(scopeOf);
}

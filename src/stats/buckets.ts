/**
 * Layout of the stats buckets in the Store, shared by the recorder (writes) and the queries.
 *
 *   stats:h:<YYYYMMDDHH>:<scope>:<dim>   hourly hash   (UTC hour)
 *   stats:d:<YYYYMMDD>:<scope>:<dim>     daily hash    (UTC day)
 *   stats:x:<YYYYMMDDHH>:<scope>:<provider>:<reason>[:n|:<slot>]   sample replies of that hour
 *
 * scope: "*" (everything) or "t=<tenant>" (one tenant, so a tenant-scoped token reads only its own).
 * dim: p (destination provider), d (recipient domain), sd (sender domain), s (sender),
 *      t (tenant; "*" scope only, "_" = no tenant).
 * One hash per (bucket, scope, dim) holds every id of that dimension: fields are
 * "<id>|<metric>", so a query reads one hash per bucket instead of scanning keys. Hash fields
 * are plain counters, so several nodes writing the same bucket simply add up.
 */

export const DIMENSIONS = ['p', 'd', 'sd', 's', 't'] as const;
export type Dimension = (typeof DIMENSIONS)[number];
export type Granularity = 'hour' | 'day';

export const HOUR_MS = 3_600_000;
export const DAY_MS = 86_400_000;
export const NO_TENANT = '_';
export const ALL_SCOPE = '*';

/** Metrics stored per id. Reason counts are "deferred:<reason>" / "bounced:<reason>". */
export const M = {
  delivered: 'delivered',
  deferred: 'deferred',
  bounced: 'bounced',
  bouncedSoft: 'bounced_soft',
  latencyMs: 'lat_ms',
  latencyN: 'lat_n',
} as const;

export function scopeOf(tenant: string | undefined): string {
  return tenant === undefined ? ALL_SCOPE : `t=${encodeURIComponent(tenant)}`;
}

function pad(n: number, w = 2): string {
  return String(n).padStart(w, '0');
}

/** Last stamp per granularity: every record of an hour formats the same one. */
const lastStamp: Record<Granularity, { start: number; stamp: string }> = { day: { start: NaN, stamp: '' }, hour: { start: NaN, stamp: '' } };

export function bucketStamp(at: number, g: Granularity): string {
  const start = bucketStart(at, g);
  const last = lastStamp[g];
  if (last.start === start) return last.stamp;
  const d = new Date(start);
  const day = `${d.getUTCFullYear()}${pad(d.getUTCMonth() + 1)}${pad(d.getUTCDate())}`;
  const stamp = g === 'day' ? day : `${day}${pad(d.getUTCHours())}`;
  lastStamp[g] = { start, stamp };
  return stamp;
}

export function bucketStart(at: number, g: Granularity): number {
  const size = g === 'day' ? DAY_MS : HOUR_MS;
  return Math.floor(at / size) * size;
}

export function bucketKey(g: Granularity, at: number, scope: string, dim: Dimension): string {
  return `stats:${g === 'day' ? 'd' : 'h'}:${bucketStamp(at, g)}:${scope}:${dim}`;
}

export function sampleBase(at: number, scope: string, provider: string, reason: string): string {
  return `stats:x:${bucketStamp(at, 'hour')}:${scope}:${encodeURIComponent(provider)}:${reason}`;
}

/** Start times of the buckets overlapping [from, to). */
export function bucketsInRange(from: number, to: number, g: Granularity): number[] {
  const size = g === 'day' ? DAY_MS : HOUR_MS;
  const out: number[] = [];
  for (let t = bucketStart(from, g); t < to; t += size) out.push(t);
  return out;
}

/** Metric names must not contain the id separator. */
export function cleanPart(s: string): string {
  return s.replace(/[|\s]+/g, '_').slice(0, 100);
}

export function field(id: string, metric: string): string {
  return `${id}|${metric}`;
}

/** Split "<id>|<metric>" at the last "|" (ids such as local parts may contain "|", metrics never). */
export function splitField(f: string): [id: string, metric: string] | null {
  const i = f.lastIndexOf('|');
  return i <= 0 ? null : [f.slice(0, i), f.slice(i + 1)];
}

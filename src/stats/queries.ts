/**
 * Read side of the stats: per provider / tenant / sender / sender domain / recipient domain over
 * a time range, time series, and the "Démailnagement" view (share of mail going to the US giants).
 * Pass `tenant` to read only that tenant's buckets: the admin API must always set it for a
 * tenant-scoped token.
 */
import type { Store } from '../store/types.js';
import {
  ALL_SCOPE, HOUR_MS, bucketKey, bucketStart, bucketsInRange, sampleBase, scopeOf,
  type Dimension, type Granularity,
} from './buckets.js';
import { emptyCounters, mergeInto, parseHash, type Counters } from './counters.js';
import type { ProviderCatalog } from '../../config/providers.js';
import type { SampleReply } from './recorder.js';

export type { Counters } from './counters.js';

export interface ReasonStat {
  outcome: 'deferred' | 'bounced';
  reason: string;
  count: number;
  /** Share of this row's attempts. */
  share: number;
  samples: SampleReply[];
}

export interface StatsRow {
  id: string;
  /** Provider display name (provider rows only). */
  name?: string;
  usGiant?: boolean;
  /** Delivery attempts (a deferral retried later counts again). */
  sent: number;
  delivered: number;
  deferred: number;
  bounced: number;
  bouncedSoft: number;
  deliveredRate: number;
  deferredRate: number;
  bouncedRate: number;
  /** delivered / (delivered + bounced): final outcomes only. */
  deliverability: number;
  avgLatencyMs: number | null;
  verdicts: Record<string, number>;
  topReasons: ReasonStat[];
}

export interface RangeQuery {
  from: number | Date;
  to: number | Date;
  tenant?: string;
  /** Default: hour for ranges up to 3 days, else day. */
  granularity?: Granularity;
  /** Max rows (sorted by sent desc). Default 100. */
  limit?: number;
}

export type ByDimension = 'provider' | 'tenant' | 'sender' | 'senderDomain' | 'domain';

export interface SeriesPoint extends Omit<StatsRow, 'id' | 'name' | 'usGiant' | 'topReasons'> {
  at: number;
}

export interface GiantShare {
  sent: number;
  delivered: number;
  deferred: number;
  bounced: number;
  /** Share of final outcomes (delivered + bounced) of the month. */
  share: number;
  deliverability: number;
}

export interface DemailnagementMonth {
  month: string;
  /** delivered + bounced (each recipient once). */
  finalTotal: number;
  usGiants: GiantShare;
  others: GiantShare;
  byProvider: { id: string; name: string; usGiant: boolean; delivered: number; bounced: number; deferred: number; share: number }[];
}

export interface StatsQueries {
  by(dim: ByDimension, q: RangeQuery): Promise<StatsRow[]>;
  byProvider(q: RangeQuery): Promise<StatsRow[]>;
  byTenant(q: RangeQuery): Promise<StatsRow[]>;
  bySender(q: RangeQuery): Promise<StatsRow[]>;
  bySenderDomain(q: RangeQuery): Promise<StatsRow[]>;
  byDomain(q: RangeQuery): Promise<StatsRow[]>;
  /** One point per bucket; `id` restricts to one provider/sender/... of `dim`. */
  series(q: RangeQuery & { dim?: ByDimension; id?: string }): Promise<SeriesPoint[]>;
  demailnagement(q: { from: number | Date; to: number | Date; tenant?: string }): Promise<DemailnagementMonth[]>;
  /** Raw aggregated counters per id (used by alerts). */
  aggregate(dim: ByDimension, q: RangeQuery): Promise<Map<string, Counters>>;
}

export interface StatsQueriesOptions {
  store: Store;
  providers: ProviderCatalog;
  /** Reasons listed per row. Default 5. */
  topReasons?: number;
  /** Sample replies per reason (provider rows). Default 3. */
  samplesPerReason?: number;
  /** Newest hours searched for samples. Default 48. */
  sampleHours?: number;
}

const DIM_OF: Record<ByDimension, Dimension> = { provider: 'p', tenant: 't', sender: 's', senderDomain: 'sd', domain: 'd' };

const ratio = (a: number, b: number): number => (b > 0 ? a / b : 0);

export function rowFromCounters(id: string, c: Counters, topN: number): StatsRow {
  const sent = c.delivered + c.deferred + c.bounced;
  const actions: Record<string, number> = {};
  for (const [k, n] of Object.entries(c.verdicts)) if (!k.includes(':')) actions[k] = n;
  const topReasons = Object.entries(c.reasons)
    .sort((a, b) => b[1] - a[1])
    .slice(0, topN)
    .map(([k, count]) => {
      const i = k.indexOf(':');
      return { outcome: k.slice(0, i) as 'deferred' | 'bounced', reason: k.slice(i + 1), count, share: ratio(count, sent), samples: [] };
    });
  return {
    id,
    sent,
    delivered: c.delivered,
    deferred: c.deferred,
    bounced: c.bounced,
    bouncedSoft: c.bouncedSoft,
    deliveredRate: ratio(c.delivered, sent),
    deferredRate: ratio(c.deferred, sent),
    bouncedRate: ratio(c.bounced, sent),
    deliverability: ratio(c.delivered, c.delivered + c.bounced),
    avgLatencyMs: c.latencyN > 0 ? Math.round(c.latencyMs / c.latencyN) : null,
    verdicts: actions,
    topReasons,
  };
}

function ms(v: number | Date): number {
  return typeof v === 'number' ? v : v.getTime();
}

function pickGranularity(q: RangeQuery): Granularity {
  return q.granularity ?? (ms(q.to) - ms(q.from) <= 3 * 86_400_000 ? 'hour' : 'day');
}

function monthOf(at: number): string {
  return new Date(at).toISOString().slice(0, 7);
}

export function createStatsQueries(opts: StatsQueriesOptions): StatsQueries {
  const { store, providers } = opts;
  const topN = opts.topReasons ?? 5;
  const samplesPerReason = opts.samplesPerReason ?? 3;
  const sampleHours = opts.sampleHours ?? 48;

  /** Counters per id per bucket start. */
  const readBuckets = async (dim: Dimension, q: RangeQuery, onlyId?: string): Promise<{ at: number; byId: Map<string, Counters> }[]> => {
    const g = pickGranularity(q);
    // The tenant dimension lives in the global scope only: a tenant reads its own row there.
    const scope = dim === 't' ? ALL_SCOPE : scopeOf(q.tenant);
    if (dim === 't' && q.tenant !== undefined) onlyId = q.tenant;
    const starts = bucketsInRange(ms(q.from), ms(q.to), g);
    const hashes = await Promise.all(starts.map((at) => store.hgetall(bucketKey(g, at, scope, dim))));
    return starts.map((at, i) => {
      const byId = new Map<string, Counters>();
      parseHash(hashes[i]!, byId, onlyId);
      return { at, byId };
    });
  };

  const aggregate = async (by: ByDimension, q: RangeQuery): Promise<Map<string, Counters>> => {
    const total = new Map<string, Counters>();
    for (const { byId } of await readBuckets(DIM_OF[by], q)) {
      for (const [id, c] of byId) {
        let t = total.get(id);
        if (!t) total.set(id, (t = emptyCounters()));
        mergeInto(t, c);
      }
    }
    return total;
  };

  /** Newest sample replies for provider + "outcome:reason" within the range (hourly sample keys). */
  const samplesFor = async (scope: string, provider: string, reason: string, from: number, to: number): Promise<SampleReply[]> => {
    const out: SampleReply[] = [];
    const newest = bucketStart(to - 1, 'hour');
    const oldest = Math.max(bucketStart(from, 'hour'), newest - (sampleHours - 1) * HOUR_MS);
    for (let at = newest; at >= oldest && out.length < samplesPerReason; at -= HOUR_MS) {
      const base = sampleBase(at, scope, provider, reason);
      const n = Number((await store.getValue(`${base}:n`)) ?? 0);
      const slots = Math.min(n, samplesPerReason - out.length);
      const values = await Promise.all(Array.from({ length: slots }, (_, i) => store.getValue(`${base}:${i + 1}`)));
      for (const v of values) if (v) out.push(JSON.parse(v) as SampleReply);
    }
    return out;
  };

  const by = async (dim: ByDimension, q: RangeQuery): Promise<StatsRow[]> => {
    const totals = await aggregate(dim, q);
    const rows = [...totals]
      .map(([id, c]) => rowFromCounters(id, c, topN))
      .sort((a, b) => b.sent - a.sent || a.id.localeCompare(b.id))
      .slice(0, q.limit ?? 100);
    if (dim === 'provider') {
      const scope = scopeOf(q.tenant);
      await Promise.all(rows.map(async (row) => {
        const p = providers.get(row.id);
        row.name = p?.name ?? row.id;
        row.usGiant = p?.usGiant ?? false;
        for (const r of row.topReasons) r.samples = await samplesFor(scope, row.id, `${r.outcome}:${r.reason}`, ms(q.from), ms(q.to));
      }));
    }
    return rows;
  };

  return {
    by,
    aggregate,
    byProvider: (q) => by('provider', q),
    byTenant: (q) => by('tenant', q),
    bySender: (q) => by('sender', q),
    bySenderDomain: (q) => by('senderDomain', q),
    byDomain: (q) => by('domain', q),

    async series(q) {
      const dim = DIM_OF[q.dim ?? 'provider'];
      const buckets = await readBuckets(dim, q, q.id?.toLowerCase());
      return buckets.map(({ at, byId }) => {
        const sum = emptyCounters();
        for (const c of byId.values()) mergeInto(sum, c);
        const { id: _id, topReasons: _r, ...row } = rowFromCounters('', sum, 0);
        return { at, ...row };
      });
    },

    async demailnagement(q) {
      const buckets = await readBuckets('p', { from: q.from, to: q.to, tenant: q.tenant, granularity: 'day' });
      const months = new Map<string, Map<string, Counters>>();
      for (const { at, byId } of buckets) {
        const m = monthOf(at);
        let acc = months.get(m);
        if (!acc) months.set(m, (acc = new Map()));
        for (const [id, c] of byId) {
          let t = acc.get(id);
          if (!t) acc.set(id, (t = emptyCounters()));
          mergeInto(t, c);
        }
      }
      return [...months].sort((a, b) => a[0].localeCompare(b[0])).map(([month, acc]) => {
        const giants = emptyCounters();
        const others = emptyCounters();
        for (const [id, c] of acc) mergeInto(providers.get(id)?.usGiant ? giants : others, c);
        const finalTotal = giants.delivered + giants.bounced + others.delivered + others.bounced;
        const share = (c: Counters): GiantShare => ({
          sent: c.delivered + c.deferred + c.bounced,
          delivered: c.delivered,
          deferred: c.deferred,
          bounced: c.bounced,
          share: ratio(c.delivered + c.bounced, finalTotal),
          deliverability: ratio(c.delivered, c.delivered + c.bounced),
        });
        const byProvider = [...acc]
          .map(([id, c]) => {
            const p = providers.get(id);
            return { id, name: p?.name ?? id, usGiant: p?.usGiant ?? false, delivered: c.delivered, bounced: c.bounced, deferred: c.deferred, share: ratio(c.delivered + c.bounced, finalTotal) };
          })
          .sort((a, b) => b.delivered + b.bounced - (a.delivered + a.bounced));
        return { month, finalTotal, usGiants: share(giants), others: share(others), byProvider };
      });
    },
  };
}

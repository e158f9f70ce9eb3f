/**
 * Stores parsed reports: counted once per (reporter, report id), only for tenants' domains, per
 * domain and UTC day, bounded by dmarc.max_rows_per_day distinct rows per domain and day (a
 * flood of forged reports can fill one domain's day, not the store), kept retention_days.
 */
import { createHash } from 'node:crypto';
import type { AggregateReport, InboundReport, TlsReport } from '../../relay/reports/types.js';
import type { Store } from '../store/types.js';
import { aggKey, DAY_MS, dayOf, dayStart, REPORTS_FIELD, rowField, rowsKey, seenKey, tlsKey } from './keys.js';

export type RecordOutcome =
  | { stored: true; domains: string[]; rows: number }
  | { stored: false; reason: 'duplicate' | 'not_tenant' | 'out_of_range' | 'day_full'; domains?: string[] };

export interface ReportRecorderDeps {
  store: Store;
  retentionDays: number;
  maxRowsPerDay: number;
  /** Whether a domain is one of a tenant's (reports for other domains are dropped). */
  isTenantDomain(domain: string): Promise<boolean>;
}

/** The UTC day a report is about: the middle of its range (reporters cover one UTC day). */
function reportDay(r: InboundReport): string {
  return dayOf(Math.floor((r.begin + r.end) / 2) * 1000);
}

export function createReportRecorder(d: ReportRecorderDeps) {
  const retentionMs = d.retentionDays * DAY_MS;
  /** Bumped at every stored report: views computed before are out of date. */
  let generation = 0;

  async function tenantDomains(domains: Iterable<string>): Promise<Set<string>> {
    const out = new Set<string>();
    for (const dom of new Set(domains)) if (await d.isTenantDomain(dom)) out.add(dom);
    return out;
  }

  /** Marks the report seen; false when it already was. */
  async function firstTime(r: InboundReport, ttlMs: number): Promise<{ fresh: boolean; key: string }> {
    const digest = createHash('sha256').update(`${r.org}\u0000${r.reportId}`).digest('hex').slice(0, 32);
    const key = seenKey(r.kind, digest);
    return { fresh: (await d.store.setIfAbsent(key, String(Date.now()), ttlMs)) === null, key };
  }

  /** Books `rows` new rows in each domain's day; false (nothing booked for good) when one is full. */
  async function book(day: string, perDomain: Map<string, number>, ttlMs: number): Promise<boolean> {
    const booked: Array<[string, number]> = [];
    for (const [dom, n] of perDomain) {
      const total = await d.store.incrBy(rowsKey(dom, day), n, ttlMs);
      booked.push([dom, n]);
      if (total > d.maxRowsPerDay) {
        for (const [b, m] of booked) await d.store.incrBy(rowsKey(b, day), -m, ttlMs);
        return false;
      }
    }
    return true;
  }

  async function write(r: InboundReport, day: string, ttlMs: number, entries: Array<{ key: string; fields: Record<string, number> }>, perDomain: Map<string, number>): Promise<RecordOutcome> {
    const domains = [...perDomain.keys()];
    const seen = await firstTime(r, retentionMs);
    if (!seen.fresh) return { stored: false, reason: 'duplicate', domains };
    try {
      if (!(await book(day, perDomain, ttlMs))) {
        await d.store.deleteValue(seen.key);
        return { stored: false, reason: 'day_full', domains };
      }
      await d.store.hincrMany(entries.map((e) => ({ ...e, ttlMs })));
    } catch (err) {
      // Not stored: the reporter's retry must not be taken for a duplicate.
      await d.store.deleteValue(seen.key).catch(() => undefined);
      throw err;
    }
    generation++;
    return { stored: true, domains, rows: entries.reduce((n, e) => n + Object.keys(e.fields).length, 0) };
  }

  async function recordAggregate(r: AggregateReport, day: string, ttlMs: number): Promise<RecordOutcome> {
    const ours = await tenantDomains(r.rows.map((row) => row.domain));
    if (!ours.size) return { stored: false, reason: 'not_tenant', domains: [r.policyDomain] };
    const buckets = new Map<string, Record<string, number>>();
    for (const row of r.rows) {
      if (!ours.has(row.domain)) continue;
      const fields = buckets.get(row.domain) ?? { [`${REPORTS_FIELD}${r.org}`]: 1 };
      const f = rowField(r.org, row);
      fields[f] = (fields[f] ?? 0) + row.count;
      buckets.set(row.domain, fields);
    }
    const perDomain = new Map([...buckets].map(([dom, f]) => [dom, Object.keys(f).length - 1]));
    return write(r, day, ttlMs, [...buckets].map(([dom, fields]) => ({ key: aggKey(dom, day), fields })), perDomain);
  }

  async function recordTls(r: TlsReport, day: string, ttlMs: number): Promise<RecordOutcome> {
    const ours = await tenantDomains(r.policies.map((p) => p.domain));
    if (!ours.size) return { stored: false, reason: 'not_tenant', domains: r.policies.map((p) => p.domain).slice(0, 5) };
    const buckets = new Map<string, Record<string, number>>();
    for (const p of r.policies) {
      if (!ours.has(p.domain)) continue;
      const fields = buckets.get(p.domain) ?? {};
      const add = (k: string, n: number) => (fields[`${r.org}|${k}`] = (fields[`${r.org}|${k}`] ?? 0) + n);
      add('ok', p.successful);
      add('fail', p.failed);
      for (const [kind, n] of Object.entries(p.failures)) add(`fail:${kind}`, n);
      buckets.set(p.domain, fields);
    }
    const perDomain = new Map([...buckets].map(([dom, f]) => [dom, Object.keys(f).length]));
    return write(r, day, ttlMs, [...buckets].map(([dom, fields]) => ({ key: tlsKey(dom, day), fields })), perDomain);
  }

  return {
    generation: () => generation,
    async record(r: InboundReport, now = Date.now()): Promise<RecordOutcome> {
      const day = reportDay(r);
      const ttlMs = dayStart(day) + DAY_MS + retentionMs - now;
      // Older than the retention, or dated after tomorrow (a forged date would outlive retention).
      if (ttlMs <= 0 || dayStart(day) > now + DAY_MS) return { stored: false, reason: 'out_of_range' };
      return r.kind === 'dmarc' ? recordAggregate(r, day, ttlMs) : recordTls(r, day, ttlMs);
    },
  };
}

export type ReportRecorder = ReturnType<typeof createReportRecorder>;

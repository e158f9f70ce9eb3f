/**
 * Read side of the DMARC data: per domain, what the reporters saw of Relais's own mail (its
 * aligned share should be ~100 %) and, separately, of mail sent in the domain's name by
 * everyone else, by source, by reporter and by day; plus the TLS reports' session counts.
 */
import type { Store } from '../store/types.js';
import { AGG_PREFIX, aggKey, DAY_MS, dayOf, isoDay, parseRowField, REPORTS_FIELD, tlsKey } from './keys.js';
import type { SourceLabel, SourceLabeller } from './sources.js';

export interface Tally {
  messages: number;
  aligned: number;
  /** aligned / messages, null without messages. */
  share: number | null;
}

export interface SourceView extends Tally {
  ip: string;
  label: SourceLabel;
  /** Reverse DNS of `elsewhere` sources (null when none or not looked up). */
  ptr: string | null;
  dkimAligned: number;
  spfAligned: number;
  dispositions: Record<string, number>;
  reporters: string[];
  /** First day (YYYY-MM-DD) this source was reported in the range, and its messages that day. */
  firstSeen: string;
  firstDayMessages: number;
}

export interface DayView {
  day: string;
  relais: Tally;
  mailcow: Tally;
  elsewhere: Tally;
}

export interface DomainView {
  domain: string;
  from: string;
  to: string;
  relais: Tally;
  /** Everything not sent by Relais: the upstream sending directly, and the rest. */
  others: Tally & { sources: number };
  bySource: SourceView[];
  byReporter: Array<Tally & { org: string; reports: number }>;
  byDay: DayView[];
  tls: Array<{ org: string; successful: number; failed: number; failures: Record<string, number> }>;
}

export interface DomainSummary {
  domain: string;
  relais: Tally;
  others: Tally & { sources: number };
  reports: number;
  lastDay: string | null;
}

export interface RangeOpts {
  /** Days back from today (UTC), today included. */
  days: number;
  now?: number;
  /** Reverse-DNS names of at most this many `elsewhere` sources (the biggest). */
  resolve?: number;
}

const tally = (): Tally => ({ messages: 0, aligned: 0, share: null });
const add = (t: { messages: number; aligned: number }, n: number, aligned: boolean): void => {
  t.messages += n;
  if (aligned) t.aligned += n;
};
const finish = <T extends Tally>(t: T): T => ({ ...t, share: t.messages ? t.aligned / t.messages : null });

function daysOf(opts: RangeOpts): string[] {
  const now = opts.now ?? Date.now();
  const out: string[] = [];
  for (let i = opts.days - 1; i >= 0; i--) out.push(dayOf(now - i * DAY_MS));
  return out;
}

export function createDmarcQueries(deps: { store: Store; sources: SourceLabeller }) {
  const { store, sources } = deps;

  async function domainView(domain: string, opts: RangeOpts): Promise<DomainView> {
    const days = daysOf(opts);
    const bySource = new Map<string, Omit<SourceView, 'label' | 'ptr' | 'reporters' | 'share'> & { reporters: Set<string> }>();
    const byReporter = new Map<string, Tally & { org: string; reports: number }>();
    const perDay = new Map<string, Map<string, Tally>>();
    const tls = new Map<string, { org: string; successful: number; failed: number; failures: Record<string, number> }>();
    for (const day of days) {
      const [fields, tlsFields] = await Promise.all([store.hgetall(aggKey(domain, day)), store.hgetall(tlsKey(domain, day))]);
      const dayIps = new Map<string, Tally>();
      for (const [f, n] of Object.entries(fields)) {
        if (f.startsWith(REPORTS_FIELD)) {
          const org = f.slice(REPORTS_FIELD.length);
          const r = byReporter.get(org) ?? { org, reports: 0, ...tally() };
          r.reports += n;
          byReporter.set(org, r);
          continue;
        }
        const row = parseRowField(f);
        if (!row) continue;
        const aligned = row.dkim === 'pass' || row.spf === 'pass';
        const s = bySource.get(row.sourceIp) ?? { ip: row.sourceIp, messages: 0, aligned: 0, dkimAligned: 0, spfAligned: 0, dispositions: {}, reporters: new Set<string>(), firstSeen: isoDay(day), firstDayMessages: 0 };
        add(s, n, aligned);
        if (s.firstSeen === isoDay(day)) s.firstDayMessages += n;
        if (row.dkim === 'pass') s.dkimAligned += n;
        if (row.spf === 'pass') s.spfAligned += n;
        s.dispositions[row.disposition] = (s.dispositions[row.disposition] ?? 0) + n;
        s.reporters.add(row.org);
        bySource.set(row.sourceIp, s);
        const r = byReporter.get(row.org) ?? { org: row.org, reports: 0, ...tally() };
        add(r, n, aligned);
        byReporter.set(row.org, r);
        const t = dayIps.get(row.sourceIp) ?? tally();
        add(t, n, aligned);
        dayIps.set(row.sourceIp, t);
      }
      perDay.set(day, dayIps);
      for (const [f, n] of Object.entries(tlsFields)) {
        const i = f.indexOf('|');
        const org = f.slice(0, i);
        const what = f.slice(i + 1);
        const t = tls.get(org) ?? { org, successful: 0, failed: 0, failures: {} };
        if (what === 'ok') t.successful += n;
        else if (what === 'fail') t.failed += n;
        else if (what.startsWith('fail:')) t.failures[what.slice(5)] = (t.failures[what.slice(5)] ?? 0) + n;
        tls.set(org, t);
      }
    }

    const labels = new Map<string, SourceLabel>();
    for (const ip of bySource.keys()) labels.set(ip, await sources.label(ip));
    const relais = tally();
    const others = { ...tally(), sources: 0 };
    const list: SourceView[] = [];
    for (const s of bySource.values()) {
      const label = labels.get(s.ip)!;
      const into = label === 'relais' ? relais : others;
      into.messages += s.messages;
      into.aligned += s.aligned;
      if (label !== 'relais') others.sources++;
      list.push(finish<SourceView>({ ...s, share: null, label, ptr: null, reporters: [...s.reporters].sort() }));
    }
    list.sort((a, b) => b.messages - a.messages || a.ip.localeCompare(b.ip));
    const toResolve = list.filter((s) => s.label === 'elsewhere').slice(0, opts.resolve ?? 20);
    await Promise.all(toResolve.map(async (s) => (s.ptr = await sources.reverse(s.ip, opts.now))));

    const byDay: DayView[] = days.map((day) => {
      const v: DayView = { day: isoDay(day), relais: tally(), mailcow: tally(), elsewhere: tally() };
      for (const [ip, t] of perDay.get(day) ?? []) {
        const bucket = v[labels.get(ip)!];
        bucket.messages += t.messages;
        bucket.aligned += t.aligned;
      }
      return { day: v.day, relais: finish(v.relais), mailcow: finish(v.mailcow), elsewhere: finish(v.elsewhere) };
    });
    return {
      domain,
      from: isoDay(days[0]!),
      to: isoDay(days.at(-1)!),
      relais: finish(relais),
      others: finish(others),
      bySource: list,
      byReporter: [...byReporter.values()].map(finish).sort((a, b) => b.messages - a.messages || a.org.localeCompare(b.org)),
      byDay,
      tls: [...tls.values()].sort((a, b) => a.org.localeCompare(b.org)),
    };
  }

  /** Domains with stored reports (any day still kept). */
  async function domains(): Promise<Map<string, string>> {
    const latest = new Map<string, string>();
    for (const key of await store.scanKeys(AGG_PREFIX)) {
      const rest = key.slice(key.indexOf(AGG_PREFIX) + AGG_PREFIX.length);
      const i = rest.lastIndexOf(':');
      const dom = rest.slice(0, i);
      const day = rest.slice(i + 1);
      if (!/^\d{8}$/.test(day)) continue;
      if ((latest.get(dom) ?? '') < day) latest.set(dom, day);
    }
    return latest;
  }

  return {
    domainView,
    domains,
    /** One line per domain with reports, optionally only some domains (a tenant's). */
    async summaries(opts: RangeOpts & { only?: (domain: string) => Promise<boolean> | boolean }): Promise<DomainSummary[]> {
      const out: DomainSummary[] = [];
      for (const [domain, last] of [...(await domains())].sort(([a], [b]) => a.localeCompare(b))) {
        if (opts.only && !(await opts.only(domain))) continue;
        const v = await domainView(domain, { ...opts, resolve: 0 });
        out.push({ domain, relais: v.relais, others: v.others, reports: v.byReporter.reduce((n, r) => n + r.reports, 0), lastDay: isoDay(last) });
      }
      return out;
    },
  };
}

export type DmarcQueries = ReturnType<typeof createDmarcQueries>;

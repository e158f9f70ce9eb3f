/**
 * Block-list watch: every dnsbl.interval one node (a store lock per interval) looks Relais's
 * sending addresses and the tenants' domains up in the configured lists, keeps each (list,
 * name) state in the store, and logs listings and delistings as they happen. The state feeds
 * GET /api/v1/dnsbl, `relais dnsbl check`, the dashboard and the alerts (a listing stays an
 * alert while it lasts, a delisting for a day).
 */
import { Resolver } from 'node:dns/promises';
import type { Logger } from 'pino';
import type { Alert } from '../stats/alerts.js';
import type { Store } from '../store/types.js';
import { checkAll, type DnsblResult } from './check.js';
import type { DnsblConfig } from './config.js';

export const DNSBL_NS = 'dnsbl';
const DELISTED_ALERT_MS = 86_400_000;

export interface DnsblEntry extends DnsblResult {
  /** Tenant owning a listed domain. */
  tenant?: string;
  /** Last definite state: listed or clear (refused/error answers don't change it). */
  listed: boolean;
  /** When the current listed/clear state started (ms). */
  since: number;
  checkedAt: number;
  delistedAt?: number;
}

export interface DnsblTargets {
  ips: string[];
  /** Domain → tenant id. */
  domains: Map<string, string>;
}

export interface DnsblWatch {
  /** Checks now (and records the changes); the current entries. */
  check(now?: number): Promise<DnsblEntry[]>;
  /** Entries as last checked (by any node). */
  state(): Promise<DnsblEntry[]>;
  alerts(now: number): Promise<Alert[]>;
  start(): void;
  stop(): void;
}

export function createDnsblWatch(d: { store: Store; config: DnsblConfig; dnsServers: string[]; targets(): Promise<DnsblTargets>; log: Logger; timeoutMs?: number }): DnsblWatch {
  const log = d.log.child({ component: 'dnsbl' });
  const resolver = new Resolver({ timeout: d.timeoutMs ?? 3000, tries: 2 });
  if (d.dnsServers.length) resolver.setServers(d.dnsServers);
  let timer: NodeJS.Timeout | null = null;

  const state = async (): Promise<DnsblEntry[]> =>
    (await d.store.listDocs<DnsblEntry>(DNSBL_NS)).map((e) => e.value).sort((a, b) => a.name.localeCompare(b.name) || a.zone.localeCompare(b.zone));

  async function check(now = Date.now()): Promise<DnsblEntry[]> {
    const t = await d.targets();
    const results = await checkAll(resolver, { ips: t.ips, domains: [...t.domains.keys()] }, { ip: d.config.ip_lists, domain: d.config.domain_lists });
    const before = new Map((await d.store.listDocs<DnsblEntry>(DNSBL_NS)).map((e) => [e.key, e.value]));
    const out: DnsblEntry[] = [];
    for (const r of results) {
      const key = `${r.zone}|${r.name}`;
      const prev = before.get(key);
      before.delete(key);
      const definite = r.status === 'listed' || r.status === 'clear';
      const listed = definite ? r.status === 'listed' : (prev?.listed ?? false);
      const changed = definite && listed !== (prev?.listed ?? false);
      const entry: DnsblEntry = {
        ...r,
        ...(r.kind === 'domain' ? { tenant: t.domains.get(r.name) } : {}),
        listed,
        since: changed || !prev ? now : prev.since,
        checkedAt: now,
        ...(changed && !listed ? { delistedAt: now } : prev?.delistedAt && !listed ? { delistedAt: prev.delistedAt } : {}),
      };
      if (changed && listed) log.warn({ dnsbl: { zone: r.zone, name: r.name, codes: r.codes, delist: r.delist } }, `block list: ${r.name} listed in ${r.zone} (delisting: ${r.delist})`);
      if (changed && !listed) log.info({ dnsbl: { zone: r.zone, name: r.name } }, `block list: ${r.name} delisted from ${r.zone}`);
      if (r.status === 'refused') log.warn({ dnsbl: { zone: r.zone, codes: r.codes } }, `block list ${r.zone} refused the query (public resolver or over quota): use a local resolver`);
      await d.store.putDoc(DNSBL_NS, key, entry);
      out.push(entry);
    }
    // Names no longer watched (a domain removed, an address changed).
    for (const key of before.keys()) await d.store.deleteDoc(DNSBL_NS, key);
    return out;
  }

  return {
    check,
    state,
    async alerts(now) {
      const out: Alert[] = [];
      for (const e of await state()) {
        const who = e.kind === 'ip' ? { fr: "l'adresse", en: 'address' } : { fr: 'le domaine', en: 'domain' };
        const subject = { per: e.kind === 'ip' ? ('ip' as const) : ('sender_domain' as const), id: e.name };
        const base = { subject, ...(e.tenant ? { tenant: e.tenant } : {}), since: new Date(e.since).toISOString(), threshold: 1 };
        if (e.listed) {
          out.push({
            ...base,
            id: `dnsbl_listing:${e.zone}:${e.name}`,
            type: 'dnsbl_listing',
            severity: 'critical',
            value: 1,
            message: {
              fr: `${who.fr[0]!.toUpperCase()}${who.fr.slice(1)} ${e.name} est sur la liste de blocage ${e.zone} (${e.codes.join(', ')}) ; retrait : ${e.delist}`,
              en: `${who.en[0]!.toUpperCase()}${who.en.slice(1)} ${e.name} is listed in ${e.zone} (${e.codes.join(', ')}); delisting: ${e.delist}`,
            },
          });
        } else if (e.delistedAt && now - e.delistedAt < DELISTED_ALERT_MS) {
          out.push({
            ...base,
            id: `dnsbl_delisting:${e.zone}:${e.name}`,
            type: 'dnsbl_delisting',
            severity: 'warning',
            value: 0,
            message: {
              fr: `${who.fr[0]!.toUpperCase()}${who.fr.slice(1)} ${e.name} a été retiré de la liste de blocage ${e.zone}`,
              en: `${who.en[0]!.toUpperCase()}${who.en.slice(1)} ${e.name} was delisted from ${e.zone}`,
            },
          });
        }
      }
      return out;
    },
    start() {
      if (timer || d.config.interval_ms === 0) return;
      const tick = async (): Promise<void> => {
        const now = Date.now();
        // One node per interval does the lookups (block lists limit query rates).
        const slot = Math.floor(now / d.config.interval_ms);
        if ((await d.store.setIfAbsent(`dnsbl:tick:${slot}`, String(now), d.config.interval_ms)) !== null) return;
        await check(now);
      };
      const run = () => void tick().catch((err: unknown) => log.warn({ err: String(err) }, 'block-list check failed'));
      run();
      timer = setInterval(run, d.config.interval_ms);
      timer.unref();
    },
    stop() {
      if (timer) clearInterval(timer);
      timer = null;
    },
  };
}

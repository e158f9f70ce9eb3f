/**
 * Builds the reputation parts (DMARC/TLS report storage and views, block-list watch) from the
 * configuration and the tenant directory. Connects only; the parts decide.
 */
import ipaddr from 'ipaddr.js';
import type { Logger } from 'pino';
import type { RelaisConfig } from '../config/config.js';
import { dmarcAlertSource, parseDmarcAlertsConfig } from '../dmarc/alerts.js';
import { createDmarcQueries, type DmarcQueries } from '../dmarc/queries.js';
import { createReportRecorder, type ReportRecorder } from '../dmarc/recorder.js';
import { createSourceLabeller, relaisAddresses } from '../dmarc/sources.js';
import { createDnsblWatch, type DnsblWatch } from '../dnsbl/watch.js';
import type { AlertSource } from '../stats/alerts.js';
import type { Store } from '../store/types.js';
import type { TenantDirectory } from '../tenants/directory.js';

export interface Reputation {
  dmarc: DmarcQueries;
  recorder: ReportRecorder;
  dnsbl: DnsblWatch;
  alertSources: AlertSource[];
  /** Tenant owning a domain (a report's header_from), if any. */
  tenantOf(domain: string): Promise<string | undefined>;
}

const UNROUTABLE = new Set(['private', 'loopback', 'linkLocal', 'uniqueLocal', 'unspecified']);

export function createReputation(d: { config: RelaisConfig; store: Store; tenants: TenantDirectory; log: Logger }): Reputation {
  const { config, store, tenants } = d;
  const tenantOf = async (domain: string) => (await tenants.resolveSenderDomain(domain.toLowerCase()))?.id;
  const dmarc = createDmarcQueries({ store, sources: createSourceLabeller({ config, tenants }) });
  const recorder = createReportRecorder({
    store,
    retentionDays: config.stats.retention_days,
    maxRowsPerDay: config.dmarc.max_rows_per_day,
    isTenantDomain: async (domain) => (await tenantOf(domain)) !== undefined,
  });
  const dnsbl = createDnsblWatch({
    store,
    config: config.dnsbl,
    dnsServers: config.dns.servers,
    log: d.log,
    async targets() {
      const domains = new Map<string, string>();
      for (const t of await tenants.list()) for (const dom of t.domains) domains.set(dom.replace(/^\*\./, ''), t.id);
      // Block lists know only routable addresses: private ones would only spend the query quota.
      const ips = relaisAddresses(config).filter((ip) => !UNROUTABLE.has(ipaddr.process(ip).range()));
      return { ips, domains };
    },
  });
  const alertSources: AlertSource[] = [
    dmarcAlertSource({ queries: dmarc, config: parseDmarcAlertsConfig(config.alerts), tenantOf, generation: recorder.generation }),
    (now) => dnsbl.alerts(now),
  ];
  return { dmarc, recorder, dnsbl, alertSources, tenantOf };
}

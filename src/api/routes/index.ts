/** Every route plugin of the admin API with its dependencies (used by the relay and the CLI). */
import { join } from 'node:path';
import type { Services } from '../../main.js';
import { dashboardRoutes } from '../../dashboard/plugin.js';
import type { ApiPlugin } from '../server.js';
import { clientRoutes } from './clients.js';
import { dkimRoutes } from './dkim.js';
import { healthRoutes } from './health.js';
import { listmonkRoutes } from './listmonk.js';
import { queueRoutes } from './queue.js';
import { quotaRoutes } from './quotas.js';
import { shapingRoutes, type ShapingControl } from './shaping.js';
import { reputationRoutes } from './reputation.js';
import { statsRoutes } from './stats.js';
import { tenantRoutes } from './tenants.js';
import { tokenRoutes } from './tokens.js';

/** What `domain check` needs of the DMARC reports: the bounce domain and 30 days of alignment. */
function dmarcAdvice(s: Services) {
  const bounceDomain = s.config.listmonk.bounce_domain;
  if (!bounceDomain) return undefined;
  return async (domain: string) => {
    const v = await s.reputation.dmarc.domainView(domain, { days: 30, resolve: 0 });
    const messages = v.relais.messages + v.others.messages;
    return { bounceDomain, last30Days: { messages, share: messages ? (v.relais.aligned + v.others.aligned) / messages : null } };
  };
}

const plug = <T>(plugin: (app: never, opts: T) => Promise<void>, opts: T): ApiPlugin => ({ plugin: plugin as never, opts });

export function buildApiRoutes(s: Services & { delivery?: ShapingControl & { operatorRetry(id: string): void } }): { routes: ApiPlugin[]; publicRoutes: ApiPlugin[] } {
  const { config, store, spool, tenants } = s;
  const countQueue = (tenant?: string) => {
    if (tenant === undefined) return spool.counts();
    const c = { active: 0, deferred: 0, hold: 0 };
    for (const e of spool.list()) if (e.tenant === tenant) c[e.state]++;
    return c;
  };
  return {
    publicRoutes: [
      plug(healthRoutes as never, { store, spoolDir: spool.root, dnsServers: config.dns.servers, metrics: s.metrics, metricsTokenRequired: config.api.metrics_token_required }),
      plug(dashboardRoutes as never, {}),
    ],
    routes: [
      plug(tokenRoutes as never, { store }),
      plug(tenantRoutes as never, { tenants }),
      plug(clientRoutes as never, { tenants }),
      plug(quotaRoutes as never, { policy: s.policy, tenants, queries: s.queries }),
      plug(dkimRoutes as never, { store, tenants, masterKey: config.dkim.master_key, keyDir: config.dkim.key_dir ?? join(config.data_dir, 'dkim-keys'), dnsServers: config.dns.servers, publicIps: config.public_ips, dmarcAdvice: dmarcAdvice(s) }),
      plug(queueRoutes as never, { spool, sendBounce: s.sendBounce, operatorRetry: s.delivery?.operatorRetry }),
      plug(statsRoutes as never, { queries: s.queries, alerts: s.alerts, queueCounts: countQueue, retentionDays: config.stats.retention_days }),
      plug(listmonkRoutes as never, { store, listmonk: s.listmonk, tenants }),
      plug(shapingRoutes as never, { delivery: s.delivery, node: config.hostname }),
      plug(reputationRoutes as never, { reputation: s.reputation, retentionDays: config.stats.retention_days }),
    ],
  };
}

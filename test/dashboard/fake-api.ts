/**
 * In-test fake of the /api/v1 routes of API.md that do not exist yet (stats, quotas, Listmonk
 * redirects, domains, tenants). Each route is added only when the real one is absent, so the test
 * keeps working as the lead lands them. Scopes are enforced with the real auth helpers.
 */
import type { FastifyPluginAsync, FastifyRequest, HTTPMethods } from 'fastify';
import { HttpError, requireAdmin, requireTenantAccess, tenantFilter } from '../../src/api/auth.js';
import type { Spool } from '../../relay/spool/spool.js';
import * as data from './fake-data.js';

export interface FakeApiRecord {
  quotaPuts: { address: string; body: unknown }[];
  quotaDeletes: string[];
}

export interface FakeApiOptions {
  spool: Spool;
  record: FakeApiRecord;
}

/** The tenant a request may see: forced for tenant tokens, optional filter for admins. */
function scopeTenant(req: FastifyRequest<{ Querystring: { tenant?: string } }>): string | undefined {
  const only = tenantFilter(req);
  if (only !== undefined && req.query.tenant && req.query.tenant !== only) requireTenantAccess(req, req.query.tenant);
  return only ?? (req.query.tenant || undefined);
}

type Req = FastifyRequest<{ Querystring: Record<string, string | undefined>; Params: Record<string, string>; Body: unknown }>;

export const fakeApiRoutes: FastifyPluginAsync<FakeApiOptions> = async (app, { spool, record }) => {
  const now = new Date();
  const quotaItems = data.quotas(now);
  const add = (method: HTTPMethods, url: string, handler: (req: Req) => Promise<unknown>) => {
    if (app.hasRoute({ method, url: `${app.prefix}${url}` })) return;
    app.route({ method, url, handler: (req) => handler(req as Req) });
  };
  const forTenant = <T extends { tenant: string }>(items: T[], tenant: string | undefined) => (tenant ? items.filter((i) => i.tenant === tenant) : items);

  add('GET', '/stats/overview', async (req) => {
    scopeTenant(req);
    return {
      today: { accepted: 1342, delivered: 1268, deferred: 41, bounced: 12, rejected: 9, redirected: 2 },
      queue: spool.counts(),
      alerts: [{ id: 'provider-deferred:microsoft', severity: 'warning', message: { fr: 'Microsoft diffère 6 % des remises (seuil 5 %) : réputation de l’IP en baisse.', en: 'Microsoft defers 6% of deliveries (threshold 5%): IP reputation dropping.' }, since: new Date(now.getTime() - 5400_000).toISOString() }],
    };
  });
  add('GET', '/stats/providers', async (req) => {
    scopeTenant(req);
    return { from: req.query.from, to: req.query.to, providers: data.PROVIDERS.map(data.providerRow) };
  });
  add('GET', '/stats/timeseries', async (req) => {
    scopeTenant(req);
    const ps = req.query.provider ? data.PROVIDERS.filter((p) => p.provider === req.query.provider) : data.PROVIDERS;
    return { step: 'day', points: data.dailySeries(ps, now) };
  });
  add('GET', '/stats/demailnagement', async (req) => {
    scopeTenant(req);
    return { months: data.demailnagement(now) };
  });

  const findQuota = (req: Req) => {
    const q = quotaItems.find((i) => i.address === req.params.address);
    if (!q) throw new HttpError(404, `Quota inconnu / Unknown quota: ${req.params.address}`);
    requireTenantAccess(req, q.tenant);
    return q;
  };
  add('GET', '/quotas', async (req) => ({ items: forTenant(quotaItems, scopeTenant(req)) }));
  add('GET', '/quotas/:address', async (req) => findQuota(req));
  add('PUT', '/quotas/:address', async (req) => {
    requireAdmin(req);
    const q = findQuota(req);
    record.quotaPuts.push({ address: req.params.address, body: req.body });
    const limits = (req.body as { limits?: Record<string, unknown> })?.limits;
    if (!limits || typeof limits !== 'object') throw new HttpError(400, 'body/limits requis / body/limits is required');
    for (const [name, value] of Object.entries(limits)) {
      if (!Number.isInteger(value) || (value as number) < 0) throw new HttpError(400, `body/limits/${name} doit être un entier / must be an integer`);
      const l = q.limits.find((x) => x.name === name);
      if (l) Object.assign(l, { limit: value, override: true });
      else q.limits.push({ name, limit: value as number, used: 0, resetAt: now.toISOString(), hard: true, override: true });
    }
    return q;
  });
  add('DELETE', '/quotas/:address', async (req) => {
    requireAdmin(req);
    const q = findQuota(req);
    record.quotaDeletes.push(q.address);
    for (const l of q.limits) l.override = false;
    return { ok: true };
  });

  add('GET', '/listmonk/redirects', async (req) => ({ items: forTenant(data.redirects(now), scopeTenant(req)) }));
  add('GET', '/domains', async (req) => ({ items: forTenant(data.DOMAINS, scopeTenant(req)) }));
  add('GET', '/domains/:domain/check', async (req) => {
    const d = data.DOMAINS.find((x) => x.domain === req.params.domain);
    if (!d) throw new HttpError(404, `Domaine inconnu / Unknown domain ${req.params.domain}`);
    requireTenantAccess(req, d.tenant);
    return data.domainCheck(d.domain);
  });
  add('GET', '/tenants', async (req) => {
    requireAdmin(req);
    return data.TENANTS;
  });
};

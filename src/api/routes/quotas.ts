/**
 * /api/v1/quotas: usage and reset time per mailbox / domain / tenant, and run-time overrides
 * (persisted in the store, winning over the YAML until cleared). `{address}` is a mailbox
 * (alice@x.org), a domain (x.org) or a tenant id (la-ruche).
 */
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import type { LimitLevel } from '../../../policies/limits.js';
import type { PolicyService } from '../../../policies/service/index.js';
import type { StatsQueries } from '../../stats/queries.js';
import type { TenantDirectory } from '../../tenants/directory.js';
import { HttpError, requireAdmin, requireTenantAccess, tenantFilter } from '../auth.js';
import { addSchemas, authErrors, listOf, okSchema, ref, shared, tenantQuery } from '../schemas.js';
import { configErrorTo400 } from './errors.js';
import { domainOf } from '../../util/domain.js';

export interface QuotaRouteDeps {
  policy: PolicyService;
  tenants: TenantDirectory;
  queries: StatsQueries;
}

const addressParams = { type: 'object', properties: { address: { type: 'string', minLength: 1, maxLength: 320 } }, required: ['address'] } as const;

const limitOut = {
  type: 'object',
  properties: {
    name: { type: 'string' },
    scope: { type: 'string', enum: ['smtp', 'newsletter'] },
    level: { type: 'string' },
    id: { type: 'string' },
    limit: { type: 'integer' },
    windowMs: { type: 'integer' },
    used: { type: 'integer' },
    resetAt: { type: 'string' },
    hard: { type: 'boolean' },
    override: { type: 'boolean' },
  },
} as const;
const usageOut = shared('QuotaUsage', { type: 'object', properties: { address: { type: 'string' }, level: { type: 'string' }, tenant: { type: 'string' }, limits: { type: 'array', items: limitOut } } } as const);

export const quotaRoutes: FastifyPluginAsync<QuotaRouteDeps> = async (app, { policy, tenants, queries }) => {
  addSchemas(app, usageOut);
  const classify = async (address: string): Promise<{ level: LimitLevel; id: string; tenant?: string }> => {
    const a = address.trim().toLowerCase();
    if (a.includes('@')) return { level: 'mailbox', id: a, tenant: (await tenants.resolveSenderDomain(domainOf(a)))?.id };
    if (await tenants.get(a)) return { level: 'tenant', id: a, tenant: a };
    if (!a.includes('.')) throw new HttpError(404, `Ni adresse, ni domaine, ni locataire connu : ${address} / Not a mailbox, domain or known tenant: ${address}`);
    return { level: 'domain', id: a, tenant: (await tenants.resolveSenderDomain(a))?.id };
  };

  const usage = async (req: FastifyRequest, address: string) => {
    const t = await classify(address);
    requireTenantAccess(req, t.tenant);
    const overrides = await policy.listOverrides();
    const hasOverride = (level: string, id: string) => overrides.some((o) => o.level === level && o.id === id);
    // Only the limits an override of this address acts on (its own level, SMTP scope): the
    // dashboard adjusts them by name, so a tenant's newsletter pacing or the domain's limits
    // listed under a mailbox would be ambiguous (each shows on its own item).
    const list = (await policy.quotaUsage({ level: t.level, id: t.id })).filter((l) => l.scope === 'smtp' && l.level === t.level);
    return {
      address: t.id,
      level: t.level,
      tenant: t.tenant,
      limits: list.map((l) => ({ ...l, resetAt: new Date(l.resetAt).toISOString(), override: hasOverride(l.level, l.id) })),
    };
  };

  app.get<{ Querystring: { tenant?: string } }>(
    '/quotas',
    {
      schema: {
        tags: ['quotas'],
        summary: 'Usage of every tenant, its domains, its configured mailboxes and its recent senders',
        querystring: tenantQuery,
        response: { 200: listOf(ref(usageOut)), ...authErrors },
      },
    },
    async (req) => {
      // A tenant token asking for another tenant is refused (as in /queue and /stats), not silently narrowed.
      if (req.query.tenant !== undefined) requireTenantAccess(req, req.query.tenant);
      const only = tenantFilter(req) ?? req.query.tenant;
      const list = (await tenants.list()).filter((t) => only === undefined || t.id === only);
      const items = [];
      const now = Date.now();
      for (const t of list) {
        const senders = (await queries.bySender({ from: now - 86_400_000, to: now, tenant: t.id, limit: 200 })).map((r) => r.id).filter((s) => s.includes('@'));
        const targets = new Set<string>([t.id, ...t.domains.filter((d) => !d.startsWith('*.')), ...Object.keys(t.mailboxes), ...senders]);
        for (const address of targets) {
          // Recent senders of the tenant's traffic may be outside its domains (the DSNs it
          // received are sent as MAILER-DAEMON@<relay>): not its quotas, and a 403 for its token.
          const item = await usage(req, address).catch((err: unknown) => {
            if (err instanceof HttpError && err.statusCode === 403 && address.includes('@')) return null;
            throw err;
          });
          if (item && (item.tenant === t.id || !address.includes('@'))) items.push(item);
        }
      }
      return { items };
    },
  );

  app.get<{ Params: { address: string } }>('/quotas/:address', { schema: { tags: ['quotas'], summary: 'Limits, usage and reset time', params: addressParams, response: { 200: ref(usageOut), ...authErrors } } }, async (req) => usage(req, req.params.address));

  app.put<{ Params: { address: string }; Body: { limits: Record<string, unknown> } }>(
    '/quotas/:address',
    {
      schema: {
        tags: ['quotas'],
        summary: 'Set limit overrides (messages_per_{minute,hour,day}, recipients_per_{minute,hour,day})',
        params: addressParams,
        body: {
          type: 'object',
          properties: {
            limits: {
              type: 'object',
              minProperties: 1,
              propertyNames: { enum: ['messages_per_minute', 'messages_per_hour', 'messages_per_day', 'recipients_per_minute', 'recipients_per_hour', 'recipients_per_day', 'hard'] },
              additionalProperties: true,
            },
          },
          required: ['limits'],
          additionalProperties: false,
        },
        response: { 200: ref(usageOut), ...authErrors },
      },
    },
    async (req) => {
      requireAdmin(req);
      const t = await classify(req.params.address);
      try {
        await policy.setOverride(t.level, t.id, req.body.limits);
      } catch (err) {
        throw configErrorTo400(err);
      }
      return usage(req, req.params.address);
    },
  );

  app.delete<{ Params: { address: string } }>('/quotas/:address', { schema: { tags: ['quotas'], summary: 'Clear the overrides (back to tenant and default limits)', params: addressParams, response: { 200: okSchema, ...authErrors } } }, async (req) => {
    requireAdmin(req);
    const t = await classify(req.params.address);
    if (!(await policy.clearOverride(t.level, t.id))) throw new HttpError(404, `Pas de dérogation pour ${t.id} / No override for ${t.id}`);
    return { ok: true };
  });

  app.post<{ Params: { address: string } }>('/quotas/:address/reset', { schema: { tags: ['quotas'], summary: 'Reset the usage counters', params: addressParams, response: { 200: okSchema, ...authErrors } } }, async (req) => {
    requireAdmin(req);
    const t = await classify(req.params.address);
    await policy.resetQuota({ level: t.level, id: t.id });
    return { ok: true };
  });
};

/**
 * /api/v1/stats/* and /api/v1/alerts: deliverability per destination provider, tenant, sender,
 * domain, as tables and time series, the Démailnagement view, and active alerts. A tenant token
 * always gets its own tenant's figures (the filter is forced, never taken from the query).
 */
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import type { Alert, StatsAlerts } from '../../stats/alerts.js';
import type { ByDimension, StatsQueries, StatsRow } from '../../stats/queries.js';
import { HttpError, requireTenantAccess, tenantFilter } from '../auth.js';
import { addSchemas, authErrors, listOf, ref, shared, tenantParam, tenantQuery } from '../schemas.js';

export interface StatsRouteDeps {
  queries: StatsQueries;
  alerts: StatsAlerts;
  queueCounts(tenant?: string): { active: number; deferred: number; hold: number };
  /** stats.retention_days: nothing older is kept, so no query may reach further back. */
  retentionDays: number;
}

const DAY = 86_400_000;

const rangeQuery = {
  type: 'object',
  properties: {
    from: { type: 'string', format: 'date-time' },
    to: { type: 'string', format: 'date-time' },
    tenant: tenantParam,
    step: { type: 'string', enum: ['hour', 'day'] },
    limit: { type: 'integer', minimum: 1, maximum: 1000, default: 100 },
  },
  additionalProperties: false,
} as const;

interface RangeQs {
  from?: string;
  to?: string;
  tenant?: string;
  step?: 'hour' | 'day';
  limit?: number;
}

const reasonSchema = {
  type: 'object',
  properties: {
    reason: { type: 'string' },
    outcome: { type: 'string' },
    count: { type: 'integer' },
    share: { type: 'number' },
    samples: { type: 'array', items: { type: 'string' } },
  },
} as const;

const rowSchema = shared('StatsRow', {
  type: 'object',
  properties: {
    id: { type: 'string' },
    provider: { type: 'string' },
    name: { type: 'string' },
    usGiant: { type: 'boolean' },
    sent: { type: 'integer' },
    delivered: { type: 'integer' },
    deferred: { type: 'integer' },
    bounced: { type: 'integer' },
    bouncedSoft: { type: 'integer' },
    deliveredPct: { type: 'number' },
    deferredPct: { type: 'number' },
    bouncedPct: { type: 'number' },
    deliverability: { type: 'number' },
    avgLatencyMs: { type: ['number', 'null'] },
    verdicts: { type: 'object', additionalProperties: { type: 'integer' } },
    topReasons: { type: 'array', items: reasonSchema },
  },
} as const);

const alertSchema = shared('Alert', {
  type: 'object',
  properties: {
    id: { type: 'string' },
    type: { type: 'string' },
    severity: { type: 'string' },
    message: { type: 'object', properties: { fr: { type: 'string' }, en: { type: 'string' } } },
    since: { type: 'string' },
    subject: { type: 'object', properties: { per: { type: 'string' }, id: { type: 'string' } } },
    tenant: { type: 'string' },
    value: { type: 'number' },
    threshold: { type: 'number' },
    fix: { type: 'object', properties: { fr: { type: 'string' }, en: { type: 'string' } } },
  },
} as const);

const pct = (r: number) => Math.round(r * 10000) / 100;

function row(r: StatsRow) {
  return {
    id: r.id,
    provider: r.id,
    name: r.name ?? r.id,
    usGiant: r.usGiant,
    sent: r.sent,
    delivered: r.delivered,
    deferred: r.deferred,
    bounced: r.bounced,
    bouncedSoft: r.bouncedSoft,
    deliveredPct: pct(r.deliveredRate),
    deferredPct: pct(r.deferredRate),
    bouncedPct: pct(r.bouncedRate),
    deliverability: pct(r.deliverability),
    avgLatencyMs: r.avgLatencyMs,
    verdicts: r.verdicts,
    topReasons: r.topReasons.map((t) => ({ reason: t.reason, outcome: t.outcome, count: t.count, share: t.share, samples: t.samples.map((s) => [s.code, s.enhanced, s.text].filter(Boolean).join(' ')) })),
  };
}

/**
 * The query's time range, bounded: each hour or day of it is one store read, so a range is
 * refused (400 naming the field) unless it lies within the kept statistics (retention_days back
 * from now, at most a day ahead for clocks that differ).
 */
export function checkedRange(q: { from?: string; to?: string }, retentionDays: number, now = Date.now(), defaultDays = 7): { from: number; to: number } {
  const to = q.to ? Date.parse(q.to) : now;
  if (!Number.isFinite(to)) throw new HttpError(400, 'querystring/to : date invalide / querystring/to must be a valid date-time');
  if (to > now + DAY) throw new HttpError(400, 'querystring/to : date dans le futur / querystring/to must not be more than one day ahead');
  const oldest = now - (retentionDays + 1) * DAY;
  if (to <= oldest) throw new HttpError(400, `querystring/to : plus ancien que la conservation des statistiques (${retentionDays} jours) / querystring/to must not be older than stats.retention_days (${retentionDays} days)`);
  const from = q.from ? Date.parse(q.from) : Math.max(to - defaultDays * DAY, oldest);
  if (!Number.isFinite(from)) throw new HttpError(400, 'querystring/from : date invalide / querystring/from must be a valid date-time');
  if (from < oldest) throw new HttpError(400, `querystring/from : plus ancien que la conservation des statistiques (${retentionDays} jours) / querystring/from must not be older than stats.retention_days (${retentionDays} days)`);
  if (!(from < to)) throw new HttpError(400, 'querystring/from : doit précéder querystring/to / querystring/from must be before querystring/to');
  return { from, to };
}

function range(req: FastifyRequest<{ Querystring: RangeQs }>, retentionDays: number) {
  const { from, to } = checkedRange(req.query, retentionDays);
  const only = tenantFilter(req);
  if (only !== undefined && req.query.tenant && req.query.tenant !== only) throw new HttpError(403, `Ce jeton ne donne accès qu’au locataire ${only} / This token only grants access to tenant ${only}`);
  return { from, to, tenant: only ?? req.query.tenant, granularity: req.query.step, limit: req.query.limit };
}

function visibleAlerts(alerts: Alert[], tenant: string | undefined): Alert[] {
  return tenant === undefined ? alerts : alerts.filter((a) => a.tenant === tenant);
}

export const statsRoutes: FastifyPluginAsync<StatsRouteDeps> = async (app, deps) => {
  addSchemas(app, rowSchema, alertSchema);
  const table = (path: string, dim: ByDimension, summary: string) =>
    app.get<{ Querystring: RangeQs }>(
      path,
      { schema: { tags: ['stats'], summary, querystring: rangeQuery, response: { 200: { type: 'object', properties: { from: { type: 'string' }, to: { type: 'string' }, items: { type: 'array', items: ref(rowSchema) } } }, ...authErrors } } },
      async (req) => {
        const q = range(req, deps.retentionDays);
        const rows = (await deps.queries.by(dim, q)).map(row);
        return { from: new Date(q.from).toISOString(), to: new Date(q.to).toISOString(), items: rows };
      },
    );
  table('/stats/providers', 'provider', 'Deliverability per destination provider');
  table('/stats/tenants', 'tenant', 'Deliverability per tenant');
  table('/stats/senders', 'sender', 'Deliverability per sender');
  table('/stats/sender-domains', 'senderDomain', 'Deliverability per sender domain');
  table('/stats/domains', 'domain', 'Deliverability per destination domain');

  app.get<{ Querystring: RangeQs & { provider?: string; dim?: ByDimension; id?: string } }>(
    '/stats/timeseries',
    {
      schema: {
        tags: ['stats'],
        summary: 'Time series (hourly or daily) of delivered / deferred / bounced',
        querystring: { ...rangeQuery, properties: { ...rangeQuery.properties, provider: { type: 'string', maxLength: 64 }, dim: { type: 'string', enum: ['provider', 'tenant', 'sender', 'senderDomain', 'domain'] }, id: { type: 'string', maxLength: 320 } } },
        response: { 200: { type: 'object', properties: { step: { type: 'string' }, points: { type: 'array', items: { type: 'object', properties: { t: { type: 'string' }, sent: { type: 'integer' }, delivered: { type: 'integer' }, deferred: { type: 'integer' }, bounced: { type: 'integer' } } } } } }, ...authErrors },
      },
    },
    async (req) => {
      const q = range(req, deps.retentionDays);
      const step = q.granularity ?? (q.to - q.from > 3 * DAY ? 'day' : 'hour');
      const dim = req.query.provider ? 'provider' : req.query.dim;
      const id = req.query.provider ?? req.query.id;
      const points = await deps.queries.series({ ...q, granularity: step, dim, id });
      return { step, points: points.map((p) => ({ t: new Date(p.at).toISOString(), sent: p.sent, delivered: p.delivered, deferred: p.deferred, bounced: p.bounced })) };
    },
  );

  app.get<{ Querystring: { tenant?: string; months: number } }>(
    '/stats/demailnagement',
    {
      schema: {
        tags: ['stats'],
        summary: 'Share of mail to the US giants (Google, Microsoft, Yahoo, Apple, Amazon) per month',
        querystring: { type: 'object', properties: { tenant: tenantParam, months: { type: 'integer', minimum: 1, maximum: 36, default: 12 } }, additionalProperties: false },
        response: {
          200: {
            type: 'object',
            properties: {
              months: {
                type: 'array',
                items: {
                  type: 'object',
                  properties: {
                    month: { type: 'string' },
                    total: { type: 'integer' },
                    usGiants: { type: 'integer' },
                    others: { type: 'integer' },
                    usGiantsPct: { type: 'number' },
                    deliveredPctUsGiants: { type: 'number' },
                    deliveredPctOthers: { type: 'number' },
                    byProvider: { type: 'array', items: { type: 'object', additionalProperties: true } },
                  },
                },
              },
            },
          },
          ...authErrors,
        },
      },
    },
    async (req) => {
      const q = range(req as never, deps.retentionDays);
      const to = Date.now();
      const from = Date.UTC(new Date(to).getUTCFullYear(), new Date(to).getUTCMonth() - (req.query.months - 1), 1);
      const months = await deps.queries.demailnagement({ from, to, tenant: q.tenant });
      // Each recipient counted once (final outcomes), like the shares: a retried deferral is one mail.
      const final = (s: { delivered: number; bounced: number }) => s.delivered + s.bounced;
      return {
        months: months.map((m) => ({
          month: m.month,
          total: m.finalTotal,
          usGiants: final(m.usGiants),
          others: final(m.others),
          usGiantsPct: pct(m.usGiants.share),
          deliveredPctUsGiants: pct(m.usGiants.deliverability),
          deliveredPctOthers: pct(m.others.deliverability),
          byProvider: m.byProvider,
        })),
      };
    },
  );

  app.get<{ Querystring: { tenant?: string } }>(
    '/stats/overview',
    {
      schema: {
        tags: ['stats'],
        summary: 'Today at a glance: messages, queue by state, alerts',
        querystring: tenantQuery,
        response: {
          200: {
            type: 'object',
            properties: {
              today: { type: 'object', additionalProperties: { type: 'integer' } },
              queue: { type: 'object', properties: { active: { type: 'integer' }, deferred: { type: 'integer' }, hold: { type: 'integer' } } },
              alerts: { type: 'array', items: ref(alertSchema) },
            },
          },
          ...authErrors,
        },
      },
    },
    async (req) => {
      const now = Date.now();
      const start = new Date(now);
      start.setUTCHours(0, 0, 0, 0);
      const q = range({ ...req, query: { from: start.toISOString(), to: new Date(now + 1000).toISOString(), tenant: req.query.tenant } } as never, deps.retentionDays);
      const rows = await deps.queries.by('tenant', { ...q, granularity: 'hour' });
      const today: Record<string, number> = { delivered: 0, deferred: 0, bounced: 0, accepted: 0, rejected: 0, deferredAtSmtp: 0, redirected: 0, held: 0 };
      for (const r of rows) {
        today.delivered! += r.delivered;
        today.deferred! += r.deferred;
        today.bounced! += r.bounced;
        today.accepted! += r.verdicts.accept ?? 0;
        today.rejected! += r.verdicts.reject ?? 0;
        today.deferredAtSmtp! += r.verdicts.defer ?? 0;
        today.redirected! += r.verdicts.redirect ?? 0;
        today.held! += r.verdicts.hold ?? 0;
      }
      return { today, queue: deps.queueCounts(q.tenant), alerts: visibleAlerts(deps.alerts.active(), q.tenant) };
    },
  );

  app.get<{ Querystring: { tenant?: string } }>(
    '/alerts',
    { schema: { tags: ['stats'], summary: 'Active alerts', querystring: tenantQuery, response: { 200: listOf(ref(alertSchema)), ...authErrors } } },
    async (req) => {
      if (req.query.tenant !== undefined) requireTenantAccess(req, req.query.tenant);
      const only = tenantFilter(req) ?? req.query.tenant;
      const items = only === undefined ? deps.alerts.active() : await deps.alerts.evaluate({ tenant: only });
      return { items: visibleAlerts(items, only) };
    },
  );
};

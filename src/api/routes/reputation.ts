/**
 * /api/v1/dmarc/* (what DMARC aggregate and TLS reports say of each domain's mail) and
 * /api/v1/dnsbl (block-list state). A tenant token sees only its own domains: other domains
 * answer 404, as if they had no reports, and IP listings (Relais's, shared) are hidden.
 */
import type { FastifyPluginAsync } from 'fastify';
import type { Reputation } from '../../wiring/reputation.js';
import { HttpError, tenantFilter } from '../auth.js';
import { authErrors, domainPattern, listOf } from '../schemas.js';
import { normalizeDomain } from '../../util/domain.js';

const tally = { type: 'object', properties: { messages: { type: 'integer' }, aligned: { type: 'integer' }, share: { type: ['number', 'null'] } } } as const;
const others = { type: 'object', properties: { ...tally.properties, sources: { type: 'integer' } } } as const;
const counts = { type: 'object', additionalProperties: { type: 'integer' } } as const;
const daysQs = { type: 'object', properties: { days: { type: 'integer', minimum: 1, maximum: 366, default: 30 } }, additionalProperties: false } as const;

const domainView = {
  type: 'object',
  properties: {
    domain: { type: 'string' },
    tenant: { type: 'string' },
    from: { type: 'string' },
    to: { type: 'string' },
    relais: tally,
    others,
    bySource: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          ip: { type: 'string' },
          label: { type: 'string', enum: ['relais', 'mailcow', 'elsewhere'] },
          ptr: { type: ['string', 'null'] },
          ...tally.properties,
          dkimAligned: { type: 'integer' },
          spfAligned: { type: 'integer' },
          dispositions: counts,
          reporters: { type: 'array', items: { type: 'string' } },
          firstSeen: { type: 'string' },
        },
      },
    },
    byReporter: { type: 'array', items: { type: 'object', properties: { org: { type: 'string' }, reports: { type: 'integer' }, ...tally.properties } } },
    byDay: { type: 'array', items: { type: 'object', properties: { day: { type: 'string' }, relais: tally, mailcow: tally, elsewhere: tally } } },
    tls: { type: 'array', items: { type: 'object', properties: { org: { type: 'string' }, successful: { type: 'integer' }, failed: { type: 'integer' }, failures: counts } } },
  },
} as const;

const dnsblEntry = {
  type: 'object',
  properties: {
    zone: { type: 'string' },
    name: { type: 'string' },
    kind: { type: 'string', enum: ['ip', 'domain'] },
    status: { type: 'string', enum: ['listed', 'clear', 'refused', 'error'] },
    listed: { type: 'boolean' },
    codes: { type: 'array', items: { type: 'string' } },
    text: { type: 'string' },
    delist: { type: 'string' },
    tenant: { type: 'string' },
    since: { type: 'string' },
    checkedAt: { type: 'string' },
    delistedAt: { type: 'string' },
  },
} as const;

const iso = (ms: number | undefined) => (ms === undefined ? undefined : new Date(ms).toISOString());

export const reputationRoutes: FastifyPluginAsync<{ reputation: Reputation; retentionDays: number }> = async (app, { reputation: r, retentionDays }) => {
  /** Days past the retention hold nothing: refused rather than read (each day is a store read per domain). */
  const checkDays = (days: number) => {
    if (days > retentionDays) throw new HttpError(400, `querystring/days : au plus ${retentionDays} (stats.retention_days) / querystring/days: at most ${retentionDays} (stats.retention_days)`);
  };
  /** Whether the caller may see this domain's reports. */
  const visible = (only: string | undefined) => async (domain: string) => only === undefined || (await r.tenantOf(domain)) === only;

  app.get<{ Querystring: { days: number } }>(
    '/dmarc/domains',
    {
      schema: {
        tags: ['dmarc'],
        summary: 'Domains with DMARC reports: aligned share of Relais’s mail, and mail from other sources',
        querystring: daysQs,
        response: {
          200: listOf({ type: 'object', properties: { domain: { type: 'string' }, tenant: { type: 'string' }, relais: tally, others, reports: { type: 'integer' }, lastDay: { type: ['string', 'null'] } } }),
          ...authErrors,
        },
      },
    },
    async (req) => {
      checkDays(req.query.days);
      const items = await r.dmarc.summaries({ days: req.query.days, only: visible(tenantFilter(req)) });
      return { items: await Promise.all(items.map(async (i) => ({ ...i, tenant: await r.tenantOf(i.domain) }))) };
    },
  );

  app.get<{ Params: { domain: string }; Querystring: { days: number } }>(
    '/dmarc/domains/:domain',
    {
      schema: {
        tags: ['dmarc'],
        summary: 'One domain’s DMARC reports by source (labelled relais, mailcow, elsewhere), by reporter and by day, and its TLS reports',
        params: { type: 'object', properties: { domain: { type: 'string', pattern: domainPattern } }, required: ['domain'] },
        querystring: daysQs,
        response: { 200: domainView, ...authErrors },
      },
    },
    async (req) => {
      checkDays(req.query.days);
      // Reports are stored under the ASCII form (xn--…): a Unicode or upper-case name finds them too.
      const domain = normalizeDomain(req.params.domain);
      if (domain === null) throw new HttpError(400, `params/domain : « ${req.params.domain} » n’est pas un domaine / params/domain: "${req.params.domain}" is not a domain`);
      const tenant = await r.tenantOf(domain);
      if (!tenant || !(await visible(tenantFilter(req))(domain))) throw new HttpError(404, `Aucun rapport DMARC pour ${domain} / No DMARC reports for ${domain}`);
      return { ...(await r.dmarc.domainView(domain, { days: req.query.days })), tenant };
    },
  );

  app.get<{ Querystring: { refresh?: boolean } }>(
    '/dnsbl',
    {
      schema: {
        tags: ['dnsbl'],
        summary: 'Block-list state of Relais’s addresses and the tenants’ domains (refresh=true checks now)',
        querystring: { type: 'object', properties: { refresh: { type: 'boolean' } }, additionalProperties: false },
        response: { 200: { type: 'object', properties: { listed: { type: 'integer' }, items: { type: 'array', items: dnsblEntry } } }, ...authErrors },
      },
    },
    async (req) => {
      const only = tenantFilter(req);
      // Checking now costs every list a query per name: admin tokens only.
      const all = req.query.refresh && only === undefined ? await r.dnsbl.check() : await r.dnsbl.state();
      const items = all.filter((e) => only === undefined || (e.kind === 'domain' && e.tenant === only));
      return {
        listed: items.filter((e) => e.listed).length,
        items: items.map((e) => ({ ...e, since: iso(e.since), checkedAt: iso(e.checkedAt), delistedAt: iso(e.delistedAt) })),
      };
    },
  );
};

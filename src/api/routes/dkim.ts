/**
 * /api/v1/dkim and /api/v1/domains: DKIM keys (generate, stage, activate, remove, DNS records)
 * and domain health checks (DKIM, SPF, DMARC, MX, MTA-STS, TLS-RPT) with the fix to apply.
 */
import type { FastifyPluginAsync } from 'fastify';
import type { DmarcReportsAdvice } from '../../domain-check/types.js';
import { activateKey, generateKey, listKeys, removeKey, type DkimKeyInfo } from '../../../relay/dkim/index.js';
import { checkDomain } from '../../domain-check/index.js';
import type { Store } from '../../store/types.js';
import type { TenantDirectory } from '../../tenants/directory.js';
import { HttpError, requireAdmin, requireTenantAccess, tenantFilter } from '../auth.js';
import { addSchemas, authErrors, domainPattern, listOf, okSchema, ref, shared, tenantQuery } from '../schemas.js';

export interface DkimRouteDeps {
  store: Store;
  tenants: TenantDirectory;
  masterKey?: string;
  keyDir: string;
  dnsServers: string[];
  publicIps: string[];
  /** rua= and p= advice from the DMARC reports (when Relais takes them). */
  dmarcAdvice?(domain: string): Promise<DmarcReportsAdvice | undefined>;
}

const domainParams = { type: 'object', properties: { domain: { type: 'string', pattern: domainPattern } }, required: ['domain'] } as const;
const keyParams = { type: 'object', properties: { domain: { type: 'string', pattern: domainPattern }, selector: { type: 'string', pattern: '^[a-z0-9][a-z0-9._-]{0,62}$' } }, required: ['domain', 'selector'] } as const;

const dnsOut = shared('DnsRecord', { type: 'object', properties: { name: { type: 'string' }, type: { type: 'string' }, value: { type: 'string' }, strings: { type: 'array', items: { type: 'string' } }, zoneLine: { type: 'string' } } } as const);
const keyOut = shared('DkimKey', {
  type: 'object',
  properties: {
    domain: { type: 'string' },
    selector: { type: 'string' },
    algo: { type: 'string' },
    status: { type: 'string' },
    createdAt: { type: 'integer' },
    activatedAt: { type: 'integer' },
    retiredAt: { type: 'integer' },
    storage: { type: 'string' },
    dns: ref(dnsOut),
  },
} as const);
const findingOut = {
  type: 'object',
  properties: { check: { type: 'string' }, status: { type: 'string' }, detail: { type: 'string' }, fix: { type: 'object', properties: { fr: { type: 'string' }, en: { type: 'string' } } } },
} as const;

export const dkimRoutes: FastifyPluginAsync<DkimRouteDeps> = async (app, deps) => {
  addSchemas(app, dnsOut, keyOut);
  const tenantOfDomain = async (domain: string) => (await deps.tenants.resolveSenderDomain(domain))?.id;
  const visibleKeys = async (keys: DkimKeyInfo[], only?: string) => {
    if (only === undefined) return keys;
    const out: DkimKeyInfo[] = [];
    for (const k of keys) if ((await tenantOfDomain(k.domain)) === only) out.push(k);
    return out;
  };
  const badRequest = (err: unknown) => (err instanceof Error && /already exists|Invalid|Refusing/i.test(err.message) ? new HttpError(err.message.includes('already exists') ? 409 : 400, err.message) : err);

  app.get<{ Querystring: { domain?: string } }>(
    '/dkim/keys',
    { schema: { tags: ['dkim'], summary: 'List DKIM keys (public parts and DNS records only)', querystring: { type: 'object', properties: { domain: { type: 'string', maxLength: 253 } }, additionalProperties: false }, response: { 200: listOf(ref(keyOut)), ...authErrors } } },
    async (req) => ({ items: await visibleKeys(await listKeys(deps.store, req.query.domain), tenantFilter(req)) }),
  );

  app.post<{ Params: { domain: string }; Body: { selector?: string; algo: 'rsa' | 'ed25519'; stage: boolean } }>(
    '/dkim/:domain/keys',
    {
      schema: {
        tags: ['dkim'],
        summary: 'Generate a key; the first of its algorithm is active at once, unless staged',
        params: domainParams,
        body: {
          type: 'object',
          properties: { selector: { type: 'string', pattern: '^[a-z0-9][a-z0-9._-]{0,62}$' }, algo: { type: 'string', enum: ['rsa', 'ed25519'], default: 'rsa' }, stage: { type: 'boolean', default: false } },
          additionalProperties: false,
        },
        response: { 201: { type: 'object', properties: { key: ref(keyOut), dns: ref(dnsOut) } }, 409: authErrors[404], ...authErrors },
      },
    },
    async (req, reply) => {
      requireAdmin(req);
      try {
        const r = await generateKey(deps.store, req.params.domain, { ...(req.body ?? {}), masterKey: deps.masterKey, keyDir: deps.masterKey ? undefined : deps.keyDir });
        reply.code(201);
        return r;
      } catch (err) {
        throw badRequest(err);
      }
    },
  );

  app.post<{ Params: { domain: string; selector: string } }>('/dkim/:domain/keys/:selector/activate', { schema: { tags: ['dkim'], summary: 'Activate a staged key (the previous active key of that algorithm is retired)', params: keyParams, response: { 200: ref(keyOut), ...authErrors } } }, async (req) => {
    requireAdmin(req);
    try {
      return await activateKey(deps.store, req.params.domain, req.params.selector);
    } catch (err) {
      throw err instanceof Error && /no key|unknown|not found/i.test(err.message) ? new HttpError(404, err.message) : badRequest(err);
    }
  });

  app.delete<{ Params: { domain: string; selector: string } }>('/dkim/:domain/keys/:selector', { schema: { tags: ['dkim'], summary: 'Remove a key', params: keyParams, response: { 200: okSchema, ...authErrors } } }, async (req) => {
    requireAdmin(req);
    if (!(await removeKey(deps.store, req.params.domain, req.params.selector))) throw new HttpError(404, `Clé ${req.params.selector} inconnue pour ${req.params.domain} / Unknown key`);
    return { ok: true };
  });

  app.get<{ Params: { domain: string } }>('/dkim/:domain/dns', { schema: { tags: ['dkim'], summary: 'DNS records to publish for the domain', params: domainParams, response: { 200: listOf(ref(dnsOut)), ...authErrors } } }, async (req) => {
    requireTenantAccess(req, tenantFilter(req) === undefined ? undefined : await tenantOfDomain(req.params.domain));
    return { items: (await listKeys(deps.store, req.params.domain)).filter((k) => k.status !== 'retired').map((k) => k.dns) };
  });

  app.get<{ Querystring: { tenant?: string } }>(
    '/domains',
    { schema: { tags: ['domains'], summary: 'Sending domains of the tenants', querystring: tenantQuery, response: { 200: listOf({ type: 'object', properties: { domain: { type: 'string' }, tenant: { type: 'string' } } }), ...authErrors } } },
    async (req) => {
      if (req.query.tenant !== undefined) requireTenantAccess(req, req.query.tenant);
      const only = tenantFilter(req) ?? req.query.tenant;
      const items = (await deps.tenants.list()).filter((t) => only === undefined || t.id === only).flatMap((t) => t.domains.filter((d) => !d.startsWith('*.')).map((domain) => ({ domain, tenant: t.id })));
      return { items };
    },
  );

  app.get<{ Params: { domain: string } }>(
    '/domains/:domain/check',
    { schema: { tags: ['domains'], summary: 'DKIM, SPF, DMARC, MX, MTA-STS and TLS-RPT health, each with its fix', params: domainParams, response: { 200: { type: 'object', properties: { domain: { type: 'string' }, findings: { type: 'array', items: findingOut } } }, ...authErrors } } },
    async (req) => {
      const domain = req.params.domain.toLowerCase();
      requireTenantAccess(req, tenantFilter(req) === undefined ? undefined : await tenantOfDomain(domain));
      const keys = (await listKeys(deps.store, domain)).filter((k) => k.status !== 'retired');
      const findings = await checkDomain(domain, {
        servers: deps.dnsServers,
        publicIps: deps.publicIps,
        dkimSelectors: keys.map((k) => k.selector),
        expectedDkimRecords: keys.map((k) => ({ selector: k.selector, value: k.dns.value })),
        dmarcReports: await deps.dmarcAdvice?.(domain),
      });
      return { domain, findings };
    },
  );
};

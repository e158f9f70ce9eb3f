/**
 * /api/v1/tenants: CRUD of tenants (collectives and people). Changes persist in the store and
 * win over the YAML seed until reset. The Listmonk token is write-only: never returned.
 */
import type { FastifyPluginAsync } from 'fastify';
import type { TenantDirectory } from '../../tenants/directory.js';
import type { TenantView } from '../../tenants/types.js';
import { HttpError, requireAdmin, requireTenantAccess, tenantFilter } from '../auth.js';
import { addSchemas, authErrors, listOf, okSchema, ref, shared } from '../schemas.js';
import { configErrorTo400 } from './errors.js';

const idPattern = '^[a-z0-9][a-z0-9._-]{0,62}$';
const idParams = { type: 'object', properties: { id: { type: 'string', pattern: idPattern } }, required: ['id'] } as const;

const limitSet = { type: 'object', additionalProperties: true } as const;
const tenantBody = {
  type: 'object',
  properties: {
    id: { type: 'string', pattern: idPattern },
    name: { type: 'string', maxLength: 200 },
    domains: { type: 'array', minItems: 1, maxItems: 1000, items: { type: 'string', minLength: 1, maxLength: 253 } },
    mailboxes: { type: 'object', maxProperties: 10000, additionalProperties: { type: 'object', additionalProperties: true } },
    limits: { type: 'object', properties: { mailbox: limitSet, domain: limitSet, tenant: limitSet }, additionalProperties: false },
    newsletter_limits: { type: 'object', properties: { mailbox: limitSet, domain: limitSet, tenant: limitSet }, additionalProperties: false },
    bulk: { type: 'object', additionalProperties: true },
    guard: { type: 'object', additionalProperties: true },
    dkim_required: { type: 'boolean' },
    newsletter_rules: { type: 'object', properties: { action: { type: 'string', enum: ['flag', 'reject'] } }, additionalProperties: false },
    listmonk: {
      type: 'object',
      properties: {
        url: { type: 'string', maxLength: 500 },
        public_url: { type: 'string', maxLength: 500 },
        user: { type: 'string', maxLength: 200 },
        token: { type: 'string', maxLength: 500, description: 'write-only; omit to keep the current one' },
        import_recipients: { type: 'boolean' },
        optin_list_id: { type: 'integer', minimum: 1 },
      },
      additionalProperties: false,
    },
  },
  additionalProperties: false,
} as const;

const tenantOut = shared('Tenant', {
  type: 'object',
  properties: {
    ...tenantBody.properties,
    listmonk: {
      type: 'object',
      properties: { url: { type: 'string' }, public_url: { type: 'string' }, user: { type: 'string' }, token_set: { type: 'boolean' }, import_recipients: { type: 'boolean' }, optin_list_id: { type: 'integer' } },
    },
    source: { type: 'string', enum: ['seed', 'store'] },
    clients: { type: 'array', items: { type: 'string' } },
  },
} as const);

export function publicTenant(t: TenantView) {
  const { listmonk, ...rest } = t;
  if (!listmonk) return rest;
  const { token, ...lm } = listmonk;
  return { ...rest, listmonk: { ...lm, token_set: Boolean(token) } };
}

export const tenantRoutes: FastifyPluginAsync<{ tenants: TenantDirectory }> = async (app, { tenants }) => {
  addSchemas(app, tenantOut);
  const save = async (raw: Record<string, unknown>, existing?: TenantView) => {
    const lm = raw.listmonk as Record<string, unknown> | undefined;
    // Write-only token: a change without it keeps the stored one.
    if (lm && lm.token === undefined && existing?.listmonk?.token) lm.token = existing.listmonk.token;
    try {
      return publicTenant(await tenants.upsert(raw));
    } catch (err) {
      throw configErrorTo400(err);
    }
  };

  app.get('/tenants', { schema: { tags: ['tenants'], summary: 'List tenants', response: { 200: listOf(ref(tenantOut)), ...authErrors } } }, async (req) => {
    const only = tenantFilter(req);
    return { items: (await tenants.list()).filter((t) => only === undefined || t.id === only).map(publicTenant) };
  });

  app.post<{ Body: Record<string, unknown> }>(
    '/tenants',
    { schema: { tags: ['tenants'], summary: 'Create a tenant', body: { ...tenantBody, required: ['id', 'domains'] }, response: { 201: ref(tenantOut), 409: authErrors[404], ...authErrors } } },
    async (req, reply) => {
      requireAdmin(req);
      if (await tenants.get(String(req.body.id))) throw new HttpError(409, `Le locataire ${String(req.body.id)} existe déjà / Tenant ${String(req.body.id)} already exists`);
      reply.code(201);
      return save(req.body);
    },
  );

  app.get<{ Params: { id: string } }>('/tenants/:id', { schema: { tags: ['tenants'], summary: 'One tenant', params: idParams, response: { 200: ref(tenantOut), ...authErrors } } }, async (req) => {
    requireTenantAccess(req, req.params.id);
    const t = await tenants.get(req.params.id);
    if (!t) throw new HttpError(404, `Locataire ${req.params.id} inconnu / Unknown tenant ${req.params.id}`);
    return publicTenant(t);
  });

  app.put<{ Params: { id: string }; Body: Record<string, unknown> }>(
    '/tenants/:id',
    { schema: { tags: ['tenants'], summary: 'Replace a tenant (creates it if absent)', params: idParams, body: { ...tenantBody, required: ['domains'] }, response: { 200: ref(tenantOut), ...authErrors } } },
    async (req) => {
      requireAdmin(req);
      if (req.body.id !== undefined && req.body.id !== req.params.id) throw new HttpError(400, 'body/id must match the id in the path');
      return save({ ...req.body, id: req.params.id }, await tenants.get(req.params.id));
    },
  );

  app.delete<{ Params: { id: string } }>('/tenants/:id', { schema: { tags: ['tenants'], summary: 'Delete a tenant', params: idParams, response: { 200: okSchema, ...authErrors } } }, async (req) => {
    requireAdmin(req);
    if (!(await tenants.remove(req.params.id))) throw new HttpError(404, `Locataire ${req.params.id} inconnu / Unknown tenant ${req.params.id}`);
    return { ok: true };
  });

  app.post<{ Params: { id: string } }>(
    '/tenants/:id/reset',
    { schema: { tags: ['tenants'], summary: 'Forget run-time changes: back to the YAML seed', params: idParams, response: { 200: { type: 'object', properties: { ok: { type: 'boolean' }, tenant: ref(tenantOut) } }, ...authErrors } } },
    async (req) => {
      requireAdmin(req);
      const t = await tenants.resetToSeed(req.params.id);
      return { ok: true, tenant: t ? publicTenant(t) : undefined };
    },
  );
};

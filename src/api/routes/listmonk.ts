/**
 * /api/v1/listmonk: bulk redirects (who, when, which draft job, its state) and pending bounce posts;
 * POST /listmonk/jobs/{id}/retry restarts a failed job; GET /tenants/{id}/listmonk/check checks a
 * tenant's Listmonk (reach, version, permissions, bounce webhooks).
 */
import type { FastifyPluginAsync } from 'fastify';
import { checkListmonk, decodeEncodedWords, type PendingDraft } from '../../../listmonk-bridge/index.js';
import type { ListmonkBridge } from '../../wiring/listmonk.js';
import { REDIRECTS_NS, type RedirectRecord } from '../../../policies/redirect.js';
import type { Store } from '../../store/types.js';
import type { TenantDirectory } from '../../tenants/directory.js';
import { HttpError, requireTenantAccess, tenantFilter } from '../auth.js';
import { authErrors, listOf, tenantParam } from '../schemas.js';

const fixSchema = { type: 'object', properties: { fr: { type: 'string' }, en: { type: 'string' } } } as const;
const jobParams = { type: 'object', properties: { id: { type: 'string', pattern: '^[0-9a-f]{32}$' } }, required: ['id'] } as const;
const tenantParams = { type: 'object', properties: { id: { type: 'string', pattern: '^[a-z0-9][a-z0-9._-]{0,62}$' } }, required: ['id'] } as const;

const tenantQs = { type: 'object', properties: { tenant: tenantParam, limit: { type: 'integer', minimum: 1, maximum: 1000, default: 200 } }, additionalProperties: false } as const;

export const listmonkRoutes: FastifyPluginAsync<{ store: Store; listmonk: ListmonkBridge; tenants: TenantDirectory }> = async (app, { store, listmonk, tenants }) => {
  app.get<{ Querystring: { tenant?: string; limit: number } }>(
    '/listmonk/redirects',
    {
      schema: {
        tags: ['listmonk'],
        summary: 'Bulk messages redirected to Listmonk, newest first, with the state of their draft',
        querystring: tenantQs,
        response: {
          200: listOf({
            type: 'object',
            properties: {
              at: { type: 'string' },
              jobId: { type: 'string', description: 'the draft job; `relais listmonk retry JOB` restarts it' },
              tenant: { type: 'string' },
              sender: { type: 'string' },
              messageId: { type: 'string' },
              subject: { type: 'string' },
              recipients: { type: 'integer' },
              status: { type: 'string', enum: ['draft-created', 'pending', 'failed'], description: 'pending: waiting or retried after a temporary error; failed: stopped on a permanent one until retried' },
              attempts: { type: 'integer' },
              error: { type: 'string', description: 'last error (pending) or the reason it failed' },
              fix: { ...fixSchema, description: 'what to do, French then English (failed only)' },
              campaignId: { type: 'integer' },
              listmonkUrl: { type: 'string' },
            },
          }),
          ...authErrors,
        },
      },
    },
    async (req) => {
      if (req.query.tenant !== undefined) requireTenantAccess(req, req.query.tenant);
      const only = tenantFilter(req) ?? req.query.tenant;
      // A redirect is as far as its least advanced job: the draft, or an import of a later transaction.
      const pending = new Map<string, PendingDraft>();
      for (const p of (await listmonk.redirector.worker.status()).pending) {
        const seen = pending.get(p.redirectId);
        if (!seen || (p.failed && !seen.failed)) pending.set(p.redirectId, seen && !p.campaignId ? { ...p, campaignId: seen.campaignId } : p);
      }
      const recs = (await store.listDocs<RedirectRecord>(REDIRECTS_NS)).map((d) => d.value).filter((r) => only === undefined || r.tenant === only);
      recs.sort((a, b) => b.at - a.at);
      return {
        items: recs.slice(0, req.query.limit).map((r) => {
          const p = pending.get(r.jobId);
          return {
            at: new Date(r.at).toISOString(),
            jobId: r.jobId,
            tenant: r.tenant,
            sender: r.sender,
            messageId: r.messageId,
            // Stored as received; shown decoded.
            subject: r.subject === undefined ? undefined : decodeEncodedWords(r.subject),
            recipients: r.recipients,
            status: p ? (p.failed ? 'failed' : 'pending') : 'draft-created',
            attempts: p?.attempts,
            error: p?.failed?.reason ?? p?.lastError,
            fix: p?.failed?.fix,
            campaignId: p?.campaignId ?? r.campaignId,
            listmonkUrl: r.listmonkUrl,
          };
        }),
      };
    },
  );

  app.get<{ Querystring: { tenant?: string; limit: number } }>(
    '/listmonk/bounces',
    { schema: { tags: ['listmonk'], summary: 'Bounce webhook posts waiting for Listmonk', querystring: tenantQs, response: { 200: listOf({ type: 'object', additionalProperties: true }), ...authErrors } } },
    async (req) => {
      if (req.query.tenant !== undefined) requireTenantAccess(req, req.query.tenant);
      const only = tenantFilter(req) ?? req.query.tenant;
      const { pending } = await listmonk.feedback.worker.status();
      return { items: pending.filter((p) => only === undefined || p.tenantId === only).slice(0, req.query.limit) };
    },
  );

  app.post<{ Params: { id: string } }>(
    '/listmonk/jobs/:id/retry',
    {
      schema: {
        tags: ['listmonk'],
        summary: 'Restart a Listmonk draft or bounce job now (e.g. after fixing the API user\'s role)',
        params: jobParams,
        response: { 200: { type: 'object', properties: { id: { type: 'string' }, kind: { type: 'string', enum: ['draft', 'bounce'] } } }, ...authErrors },
      },
    },
    async (req) => {
      const { id } = req.params;
      const draft = (await listmonk.redirector.worker.status()).pending.find((p) => p.id === id || p.redirectId === id);
      const bounce = draft ? undefined : (await listmonk.feedback.worker.status()).pending.find((p) => p.id === id);
      const tenant = draft?.tenantId ?? bounce?.tenantId;
      if (!tenant) throw new HttpError(404, `Aucune tâche Listmonk ${id} en attente / No pending Listmonk job ${id}`);
      requireTenantAccess(req, tenant);
      if (draft) await listmonk.redirector.worker.retry(id);
      else await listmonk.feedback.worker.retry(id);
      return { id, kind: draft ? 'draft' : 'bounce' };
    },
  );

  app.get<{ Params: { id: string } }>(
    '/tenants/:id/listmonk/check',
    {
      schema: {
        tags: ['listmonk'],
        summary: "Check a tenant's Listmonk: reachable, version, each permission the bridge needs, bounce webhooks",
        params: tenantParams,
        response: {
          200: {
            type: 'object',
            properties: {
              tenant: { type: 'string' },
              url: { type: 'string' },
              version: { type: 'string' },
              ok: { type: 'boolean' },
              lines: { type: 'array', items: { type: 'object', properties: { check: { type: 'string' }, status: { type: 'string', enum: ['pass', 'fail'] }, detail: { type: 'string' }, fix: fixSchema } } },
            },
          },
          ...authErrors,
        },
      },
    },
    async (req) => {
      requireTenantAccess(req, req.params.id);
      const t = await tenants.get(req.params.id);
      if (!t) throw new HttpError(404, `Tenant ${req.params.id} inconnu / Unknown tenant ${req.params.id}`);
      if (!t.listmonk) throw new HttpError(404, `Le tenant ${t.id} n'a pas de Listmonk configuré / Tenant ${t.id} has no Listmonk configured`);
      const r = await checkListmonk(t.listmonk);
      return { tenant: t.id, ...r, ok: r.lines.every((l) => l.status === 'pass') };
    },
  );
};

/** /api/v1/listmonk: bulk redirects (who, when, which draft, its state) and pending bounce posts. */
import type { FastifyPluginAsync } from 'fastify';
import type { ListmonkBridge } from '../../wiring/listmonk.js';
import { REDIRECTS_NS, type RedirectRecord } from '../../../policies/redirect.js';
import type { Store } from '../../store/types.js';
import { requireTenantAccess, tenantFilter } from '../auth.js';
import { authErrors } from '../schemas.js';

const tenantQs = { type: 'object', properties: { tenant: { type: 'string', maxLength: 64 }, limit: { type: 'integer', minimum: 1, maximum: 1000, default: 200 } }, additionalProperties: false } as const;

export const listmonkRoutes: FastifyPluginAsync<{ store: Store; listmonk: ListmonkBridge }> = async (app, { store, listmonk }) => {
  app.get<{ Querystring: { tenant?: string; limit: number } }>(
    '/listmonk/redirects',
    {
      schema: {
        tags: ['listmonk'],
        summary: 'Bulk messages redirected to Listmonk, newest first, with the state of their draft',
        querystring: tenantQs,
        response: {
          200: {
            type: 'object',
            properties: {
              items: {
                type: 'array',
                items: {
                  type: 'object',
                  properties: {
                    at: { type: 'string' },
                    tenant: { type: 'string' },
                    sender: { type: 'string' },
                    messageId: { type: 'string' },
                    subject: { type: 'string' },
                    recipients: { type: 'integer' },
                    status: { type: 'string', enum: ['draft-created', 'pending', 'failed'] },
                    attempts: { type: 'integer' },
                    error: { type: 'string' },
                    campaignId: { type: 'integer' },
                    listmonkUrl: { type: 'string' },
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
      if (req.query.tenant !== undefined) requireTenantAccess(req, req.query.tenant);
      const only = tenantFilter(req) ?? req.query.tenant;
      const pending = new Map((await listmonk.redirector.worker.status()).pending.filter((p) => p.kind === 'draft').map((p) => [p.id, p]));
      const recs = (await store.listDocs<RedirectRecord>(REDIRECTS_NS)).map((d) => d.value).filter((r) => only === undefined || r.tenant === only);
      recs.sort((a, b) => b.at - a.at);
      return {
        items: recs.slice(0, req.query.limit).map((r) => {
          const p = pending.get(r.jobId);
          return {
            at: new Date(r.at).toISOString(),
            tenant: r.tenant,
            sender: r.sender,
            messageId: r.messageId,
            subject: r.subject,
            recipients: r.recipients,
            status: p ? (p.lastError ? 'failed' : 'pending') : 'draft-created',
            attempts: p?.attempts,
            error: p?.lastError,
            campaignId: p?.campaignId,
            listmonkUrl: r.listmonkUrl,
          };
        }),
      };
    },
  );

  app.get<{ Querystring: { tenant?: string; limit: number } }>(
    '/listmonk/bounces',
    { schema: { tags: ['listmonk'], summary: 'Bounce webhook posts waiting for Listmonk', querystring: tenantQs, response: { 200: { type: 'object', properties: { items: { type: 'array', items: { type: 'object', additionalProperties: true } } } }, ...authErrors } } },
    async (req) => {
      if (req.query.tenant !== undefined) requireTenantAccess(req, req.query.tenant);
      const only = tenantFilter(req) ?? req.query.tenant;
      const { pending } = await listmonk.feedback.worker.status();
      return { items: pending.filter((p) => only === undefined || p.tenantId === only).slice(0, req.query.limit) };
    },
  );
};

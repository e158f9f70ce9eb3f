/** /api/v1/queue: list with filters and paging, one message's envelope and attempts, actions. */
import type { FastifyPluginAsync } from 'fastify';
import type { Envelope } from '../../../relay/spool/envelope.js';
import { deleteMessage, filterQueue, holdMessage, releaseMessage, retryNow } from '../../../relay/spool/queue-ops.js';
import type { SpoolApi } from '../../../relay/spool/spool.js';
import { HttpError, requireAdmin, requireTenantAccess, tenantFilter } from '../auth.js';
import { addSchemas, authErrors, okSchema, ref, shared, tenantParam } from '../schemas.js';

export interface QueueRouteDeps {
  spool: SpoolApi;
  sendBounce?: (env: Envelope, reason: string) => Promise<void>;
  /** An admin's retry may probe a provider suspended by delivery's shaping (relay/delivery/shaper.ts). */
  operatorRetry?: (id: string) => void;
}

const recipientSchema = {
  type: 'object',
  properties: {
    address: { type: 'string' },
    status: { type: 'string' },
    attempts: { type: 'integer' },
    last: { type: 'object', additionalProperties: true },
  },
} as const;

const summarySchema = shared('QueueMessage', {
  type: 'object',
  properties: {
    id: { type: 'string' },
    state: { type: 'string', enum: ['active', 'deferred', 'hold'] },
    from: { type: 'string' },
    recipients: { type: 'array', items: recipientSchema },
    receivedAt: { type: 'string', format: 'date-time' },
    nextAttemptAt: { type: 'string', format: 'date-time' },
    size: { type: 'integer' },
    tenant: { type: 'string' },
    subject: { type: 'string' },
    messageId: { type: 'string' },
    holdReason: { type: 'string' },
  },
} as const);

const detailSchema = {
  type: 'object',
  properties: {
    ...summarySchema.properties,
    client: { type: 'object', additionalProperties: true },
    attempts: { type: 'array', items: { type: 'object', additionalProperties: true } },
    newsletter: { type: 'boolean' },
    kind: { type: 'string' },
  },
} as const;

const idParams = { type: 'object', properties: { id: { type: 'string', pattern: '^[0-9A-Z]{16}$' } }, required: ['id'] } as const;

function summary(e: Envelope) {
  return {
    id: e.id,
    state: e.state,
    from: e.from,
    recipients: e.recipients.map((r) => ({ address: r.address, status: r.status, attempts: r.attempts, last: r.last })),
    receivedAt: new Date(e.receivedAt).toISOString(),
    nextAttemptAt: new Date(e.nextAttemptAt).toISOString(),
    size: e.size,
    tenant: e.tenant,
    subject: e.subject,
    messageId: e.messageId,
    holdReason: e.holdReason,
  };
}

export const queueRoutes: FastifyPluginAsync<QueueRouteDeps> = async (app, deps) => {
  addSchemas(app, summarySchema);
  const find = (req: { params: { id: string } } & Parameters<typeof requireTenantAccess>[0]): Envelope => {
    const env = deps.spool.get(req.params.id);
    if (!env) throw new HttpError(404, `Message ${req.params.id} absent de la file / Message ${req.params.id} is not queued`);
    requireTenantAccess(req, tenantFilter(req) === undefined ? env.tenant : env.tenant ?? '');
    return env;
  };

  app.get<{ Querystring: { state?: 'active' | 'deferred' | 'hold'; sender?: string; recipient?: string; domain?: string; tenant?: string; limit: number; offset: number } }>(
    '/queue',
    {
      schema: {
        tags: ['queue'],
        summary: 'List queued messages',
        querystring: {
          type: 'object',
          properties: {
            state: { type: 'string', enum: ['active', 'deferred', 'hold'] },
            sender: { type: 'string', maxLength: 320 },
            recipient: { type: 'string', maxLength: 320 },
            domain: { type: 'string', maxLength: 253 },
            tenant: tenantParam,
            limit: { type: 'integer', minimum: 1, maximum: 1000, default: 100 },
            offset: { type: 'integer', minimum: 0, default: 0 },
          },
          additionalProperties: false,
        },
        response: {
          200: {
            type: 'object',
            properties: {
              total: { type: 'integer' },
              counts: { type: 'object', properties: { active: { type: 'integer' }, deferred: { type: 'integer' }, hold: { type: 'integer' } } },
              items: { type: 'array', items: ref(summarySchema) },
            },
          },
          ...authErrors,
        },
      },
    },
    async (req) => {
      const only = tenantFilter(req);
      const q = req.query;
      if (only !== undefined && q.tenant && q.tenant !== only) requireTenantAccess(req, q.tenant);
      const all = filterQueue(deps.spool, { ...q, tenant: only ?? q.tenant });
      const counts = { active: 0, deferred: 0, hold: 0 };
      for (const e of all) counts[e.state]++;
      return { total: all.length, counts, items: all.slice(q.offset, q.offset + q.limit).map(summary) };
    },
  );

  app.get<{ Params: { id: string } }>('/queue/:id', { schema: { tags: ['queue'], summary: 'One queued message: envelope, state, attempt history', params: idParams, response: { 200: detailSchema, ...authErrors } } }, async (req) => {
    const e = find(req);
    return { ...summary(e), client: e.client, attempts: e.attempts, newsletter: e.newsletter ?? false, kind: e.kind ?? 'message' };
  });

  const action = (name: string, summaryText: string, fn: (env: Envelope) => Promise<void>) =>
    app.post<{ Params: { id: string } }>(`/queue/:id/${name}`, { schema: { tags: ['queue'], summary: summaryText, params: idParams, response: { 200: okSchema, ...authErrors } } }, async (req) => {
      requireAdmin(req);
      const env = find(req);
      try {
        await fn(env);
      } catch (err) {
        throw new HttpError(409, (err as Error).message);
      }
      return { ok: true };
    });
  action('retry', 'Retry now', (env) => {
    deps.operatorRetry?.(env.id);
    return retryNow(deps.spool, env);
  });
  action('hold', 'Put on hold', (env) => holdMessage(deps.spool, env));
  action('release', 'Release from hold', (env) => releaseMessage(deps.spool, env));

  app.delete<{ Params: { id: string }; Querystring: { bounce: boolean } }>(
    '/queue/:id',
    {
      schema: {
        tags: ['queue'],
        summary: 'Delete a queued message, optionally bouncing it to the sender',
        params: idParams,
        querystring: { type: 'object', properties: { bounce: { type: 'boolean', default: false } }, additionalProperties: false },
        response: { 200: okSchema, ...authErrors },
      },
    },
    async (req) => {
      requireAdmin(req);
      const env = find(req);
      await deleteMessage(deps.spool, env, { bounce: req.query.bounce, sendBounce: deps.sendBounce });
      return { ok: true };
    },
  );
};

/** /api/v1/tokens (admin) and /api/v1/whoami. */
import type { FastifyPluginAsync } from 'fastify';
import type { Store } from '../../store/types.js';
import { HttpError, requireAdmin } from '../auth.js';
import { addSchemas, authErrors, okSchema, ref, shared } from '../schemas.js';
import { createToken, listTokens, revokeToken, validScope } from '../tokens.js';

const tokenInfo = shared('Token', {
  type: 'object',
  properties: { id: { type: 'string' }, name: { type: 'string' }, scopes: { type: 'array', items: { type: 'string' } }, createdAt: { type: 'string' }, lastUsedAt: { type: 'string' } },
} as const);

export const tokenRoutes: FastifyPluginAsync<{ store: Store }> = async (app, { store }) => {
  addSchemas(app, tokenInfo);
  app.get('/whoami', { schema: { tags: ['auth'], summary: 'Who this token is', response: { 200: { type: 'object', properties: { name: { type: 'string' }, admin: { type: 'boolean' }, tenant: { type: 'string' } } }, ...authErrors } } }, async (req) => ({
    name: req.principal!.name,
    admin: req.principal!.admin,
    tenant: req.principal!.tenant,
  }));

  app.get('/tokens', { schema: { tags: ['auth'], summary: 'List API tokens (never their secret)', response: { 200: { type: 'array', items: ref(tokenInfo) }, ...authErrors } } }, async (req) => {
    requireAdmin(req);
    return listTokens(store);
  });

  app.post<{ Body: { name: string; scopes: string[] } }>(
    '/tokens',
    {
      schema: {
        tags: ['auth'],
        summary: 'Create a token; the secret is returned once',
        body: {
          type: 'object',
          properties: { name: { type: 'string', minLength: 1, maxLength: 100 }, scopes: { type: 'array', minItems: 1, maxItems: 100, items: { type: 'string', pattern: '^(admin|tenant:[a-z0-9][a-z0-9._-]{0,62})$' } } },
          required: ['name', 'scopes'],
          additionalProperties: false,
        },
        response: { 201: { type: 'object', properties: { token: { type: 'string' }, info: ref(tokenInfo) } }, ...authErrors },
      },
    },
    async (req, reply) => {
      requireAdmin(req);
      if (!req.body.scopes.every(validScope)) throw new HttpError(400, 'body/scopes: expected "admin" or "tenant:<id>"');
      reply.code(201);
      return createToken(store, req.body.name, req.body.scopes);
    },
  );

  app.delete<{ Params: { id: string } }>(
    '/tokens/:id',
    { schema: { tags: ['auth'], summary: 'Revoke a token', params: { type: 'object', properties: { id: { type: 'string', pattern: '^[0-9a-f]{12}$' } }, required: ['id'] }, response: { 200: okSchema, ...authErrors } } },
    async (req) => {
      requireAdmin(req);
      if (!(await revokeToken(store, req.params.id))) throw new HttpError(404, `Jeton ${req.params.id} inconnu / Unknown token ${req.params.id}`);
      return { ok: true };
    },
  );
};

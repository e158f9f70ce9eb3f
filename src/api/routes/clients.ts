/**
 * /api/v1/clients: SMTP clients (Mailcow, Listmonk instances). Creation and rotation return a
 * generated password once; it is stored only as a scrypt hash and never shown again.
 */
import { randomBytes } from 'node:crypto';
import type { FastifyPluginAsync } from 'fastify';
import { hashPassword } from '../../clients/password.js';
import type { TenantDirectory } from '../../tenants/directory.js';
import type { ClientView } from '../../tenants/types.js';
import { HttpError, requireAdmin } from '../auth.js';
import { addSchemas, authErrors, listOf, okSchema, ref, shared } from '../schemas.js';
import { configErrorTo400 } from './errors.js';

const namePattern = '^[a-z0-9][a-z0-9._-]{0,62}$';
const nameParams = { type: 'object', properties: { name: { type: 'string', pattern: namePattern } }, required: ['name'] } as const;

const clientOut = shared('Client', {
  type: 'object',
  properties: {
    name: { type: 'string' },
    tenants: { type: 'array', items: { type: 'string' } },
    networks: { type: 'array', items: { type: 'string' } },
    newsletter: { type: 'boolean' },
    allow_null_sender: { type: 'boolean' },
    disabled: { type: 'boolean' },
    has_password: { type: 'boolean' },
    source: { type: 'string' },
  },
} as const);

const withPassword = { type: 'object', properties: { client: ref(clientOut), password: { type: 'string' } } } as const;

function publicClient(c: ClientView) {
  const { password_hash, ...rest } = c;
  return { ...rest, disabled: Boolean(c.disabled), has_password: Boolean(password_hash) };
}

const newPassword = () => randomBytes(18).toString('base64url');

export const clientRoutes: FastifyPluginAsync<{ tenants: TenantDirectory }> = async (app, { tenants }) => {
  addSchemas(app, clientOut);
  const get = async (name: string) => {
    const c = await tenants.getClient(name);
    if (!c) throw new HttpError(404, `Client ${name} inconnu / Unknown client ${name}`);
    return c;
  };
  const save = async (raw: Record<string, unknown>) => {
    try {
      return await tenants.upsertClient(raw);
    } catch (err) {
      throw configErrorTo400(err);
    }
  };
  const stored = (c: ClientView): Record<string, unknown> => {
    const { source: _s, ...rest } = c;
    return rest;
  };

  app.get('/clients', { schema: { tags: ['clients'], summary: 'List SMTP clients (never their password)', response: { 200: listOf(ref(clientOut)), ...authErrors } } }, async (req) => {
    requireAdmin(req);
    return { items: (await tenants.listClients()).map(publicClient) };
  });

  app.post<{ Body: { name: string; tenants: string[]; networks?: string[]; newsletter?: boolean; allow_null_sender?: boolean; auth?: boolean } }>(
    '/clients',
    {
      schema: {
        tags: ['clients'],
        summary: 'Create a client; its password is returned once',
        body: {
          type: 'object',
          properties: {
            name: { type: 'string', pattern: namePattern },
            tenants: { type: 'array', minItems: 1, maxItems: 1000, items: { type: 'string', maxLength: 64 } },
            networks: { type: 'array', maxItems: 1000, items: { type: 'string', maxLength: 64 } },
            newsletter: { type: 'boolean' },
            allow_null_sender: { type: 'boolean' },
            auth: { type: 'boolean', default: true, description: 'generate an AUTH password (false: network-only client)' },
          },
          required: ['name', 'tenants'],
          additionalProperties: false,
        },
        response: { 201: withPassword, 409: authErrors[404], ...authErrors },
      },
    },
    async (req, reply) => {
      requireAdmin(req);
      const { auth, ...body } = req.body;
      if (await tenants.getClient(body.name)) throw new HttpError(409, `Le client ${body.name} existe déjà / Client ${body.name} already exists`);
      const password = auth === false ? undefined : newPassword();
      const c = await save({ ...body, ...(password ? { password_hash: await hashPassword(password) } : {}) });
      reply.code(201);
      return { client: publicClient(c), password };
    },
  );

  app.post<{ Params: { name: string } }>('/clients/:name/rotate', { schema: { tags: ['clients'], summary: 'New password (returned once); the old one stops working', params: nameParams, response: { 200: withPassword, ...authErrors } } }, async (req) => {
    requireAdmin(req);
    const c = await get(req.params.name);
    const password = newPassword();
    const saved = await save({ ...stored(c), password_hash: await hashPassword(password) });
    return { client: publicClient(saved), password };
  });

  for (const [action, disabled] of [['disable', true], ['enable', false]] as const) {
    app.post<{ Params: { name: string } }>(`/clients/:name/${action}`, { schema: { tags: ['clients'], summary: `${action[0]!.toUpperCase()}${action.slice(1)} a client`, params: nameParams, response: { 200: ref(clientOut), ...authErrors } } }, async (req) => {
      requireAdmin(req);
      const c = await get(req.params.name);
      const raw = stored(c);
      if (disabled) raw.disabled = true;
      else delete raw.disabled;
      return publicClient(await save(raw));
    });
  }

  app.delete<{ Params: { name: string } }>('/clients/:name', { schema: { tags: ['clients'], summary: 'Delete a client', params: nameParams, response: { 200: okSchema, ...authErrors } } }, async (req) => {
    requireAdmin(req);
    if (!(await tenants.removeClient(req.params.name))) throw new HttpError(404, `Client ${req.params.name} inconnu / Unknown client ${req.params.name}`);
    return { ok: true };
  });
};

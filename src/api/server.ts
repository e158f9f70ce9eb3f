/**
 * The admin API (Fastify): OpenAPI at /api/v1/openapi.json, bearer tokens with scopes, rate
 * limits, one encapsulated plugin per resource with its schemas beside it. Errors are JSON
 * {statusCode, error, message}; schema errors name the field ("body/name must be string").
 */
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyPluginAsync } from 'fastify';
import rateLimit from '@fastify/rate-limit';
import swagger from '@fastify/swagger';
import type { Logger } from 'pino';
import type { Store } from '../store/types.js';
import { createAuthHook, HttpError } from './auth.js';
import { addSchemas, rootSchemas } from './schemas.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** The bearer-token hook of /api/v1, for public routes that may require a token. */
    authenticate: ReturnType<typeof createAuthHook>;
  }
}

export interface ApiPlugin {
  plugin: FastifyPluginAsync<never>;
  opts: unknown;
}

export interface ApiOptions {
  store: Store;
  log: Logger;
  envAdminToken?: string;
  rateLimitPerMinute: number;
  /** Plugins mounted under /api/v1 (authenticated). */
  routes: ApiPlugin[];
  /** Plugins mounted at the root (health, metrics, dashboard), not authenticated by the hook. */
  publicRoutes: ApiPlugin[];
}

export async function buildApi(opts: ApiOptions): Promise<FastifyInstance> {
  // pino Logger and Fastify's base logger type differ only nominally.

  const app = Fastify({
    loggerInstance: opts.log.child({ component: 'api' }) as unknown as FastifyBaseLogger,
    // One log line per request would drown the SMTP log; errors are logged by the handler.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: 1024 * 1024,
    ajv: { customOptions: { removeAdditional: false, coerceTypes: 'array', useDefaults: true, allErrors: false } },
  });

  app.setErrorHandler((err: Error & { statusCode?: number; validation?: unknown; code?: string }, req, reply) => {
    const status = err instanceof HttpError ? err.statusCode : err.validation ? 400 : (err.statusCode ?? 500);
    if (status >= 500) req.log.error({ err, url: req.url }, 'api error');
    let message = err.message;
    if (err.code === 'FST_ERR_CTP_INVALID_JSON_BODY' || err.code === 'FST_ERR_CTP_EMPTY_JSON_BODY') message = `JSON invalide dans le corps de la requête / Invalid JSON body: ${err.message}`;
    if (status === 500) message = 'Erreur interne / Internal error';
    reply.code(status).send({ statusCode: status, error: httpReason(status), message });
  });
  app.setNotFoundHandler((req, reply) => {
    reply.code(404).send({ statusCode: 404, error: 'Not Found', message: `Route inconnue / Unknown route: ${req.method} ${req.url.split('?')[0]}` });
  });

  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: { title: 'Relais admin API', version: '1', description: 'Tenants, clients, quotas, DKIM keys, queue and reputation stats of the Relais exit node.' },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      security: [{ bearer: [] }],
    },
    // Shared schemas (addSchema) become components named by their $id.
    refResolver: { buildLocalReference: (json, _base, _fragment, i) => (typeof json.$id === 'string' ? json.$id : `def-${i}`) },
  });
  addSchemas(app, ...rootSchemas);
  await app.register(rateLimit, {
    max: opts.rateLimitPerMinute,
    timeWindow: 60_000,
    keyGenerator: (req) => req.ip,
    errorResponseBuilder: (_req, ctx) => ({ statusCode: 429, error: 'Too Many Requests', message: `Trop de requêtes, réessayez dans ${Math.ceil(ctx.ttl / 1000)} s / Rate limit exceeded, retry in ${Math.ceil(ctx.ttl / 1000)} s` }),
  });

  app.get('/api/v1/openapi.json', { schema: { hide: true }, config: { rateLimit: false } }, async () => app.swagger());

  // One hook, so the failure budget is shared by /api/v1 and the public routes that opt in.
  const authenticate = createAuthHook(opts.store, { envAdminToken: opts.envAdminToken });
  app.decorate('authenticate', authenticate);
  for (const p of opts.publicRoutes) await app.register(p.plugin, p.opts as never);

  await app.register(async (api) => {
    api.addHook('onRequest', authenticate);
    for (const p of opts.routes) await api.register(p.plugin, p.opts as never);
  }, { prefix: '/api/v1' });

  return app;
}

function httpReason(status: number): string {
  return (
    { 400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 409: 'Conflict', 413: 'Payload Too Large', 415: 'Unsupported Media Type', 429: 'Too Many Requests', 503: 'Service Unavailable' } as Record<number, string>
  )[status] ?? (status >= 500 ? 'Internal Server Error' : 'Error');
}

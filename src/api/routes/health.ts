/** /healthz (store, spool, DNS reachable) and /metrics (Prometheus), outside /api/v1. */
import { access, constants } from 'node:fs/promises';
import { Resolver } from 'node:dns/promises';
import type { FastifyPluginAsync } from 'fastify';
import type { Metrics } from '../../metrics.js';
import type { Store } from '../../store/types.js';
import { requireAdmin } from '../auth.js';
import { addSchemas, ref, shared } from '../schemas.js';

export interface HealthDeps {
  store: Store;
  spoolDir: string;
  dnsServers: string[];
  metrics: Metrics;
  /** api.metrics_token_required: /metrics then needs an admin token (Prometheus `authorization`). */
  metricsTokenRequired?: boolean;
}

async function check(fn: () => Promise<unknown>, timeoutMs = 2000): Promise<{ ok: boolean; error?: string }> {
  try {
    await Promise.race([fn(), new Promise((_, rej) => setTimeout(() => rej(new Error('timeout')), timeoutMs))]);
    return { ok: true };
  } catch (err) {
    return { ok: false, error: (err as Error).message };
  }
}

/** Any DNS answer, even NXDOMAIN, proves the resolver is reachable. */
async function dnsReachable(servers: string[]): Promise<void> {
  const r = new Resolver({ timeout: 1500, tries: 1 });
  if (servers.length) r.setServers(servers);
  try {
    await r.resolveNs('.');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOTFOUND' || code === 'ENODATA') return;
    throw err;
  }
}

const checkSchema = { type: 'object', properties: { ok: { type: 'boolean' }, error: { type: 'string' } } } as const;
const healthSchema = shared('Health', { type: 'object', properties: { ok: { type: 'boolean' }, store: checkSchema, spool: checkSchema, dns: checkSchema } } as const);

export const healthRoutes: FastifyPluginAsync<HealthDeps> = async (app, deps) => {
  addSchemas(app, healthSchema);
  app.get(
    '/healthz',
    {
      config: { rateLimit: false },
      schema: {
        tags: ['health'],
        summary: 'Liveness and dependencies',
        response: {
          200: ref(healthSchema),
          503: ref(healthSchema),
        },
      },
    },
    async (_req, reply) => {
      const [store, spool, dns] = await Promise.all([
        check(() => deps.store.ping()),
        check(() => access(deps.spoolDir, constants.W_OK)),
        check(() => dnsReachable(deps.dnsServers)),
      ]);
      const ok = store.ok && spool.ok && dns.ok;
      reply.code(ok ? 200 : 503);
      return { ok, store, spool, dns };
    },
  );

  const guard = deps.metricsTokenRequired
    ? { onRequest: app.authenticate, preHandler: async (req: Parameters<typeof requireAdmin>[0]) => requireAdmin(req) }
    : {};
  app.get('/metrics', { config: { rateLimit: false }, schema: { tags: ['health'], summary: 'Prometheus metrics', hide: false }, ...guard }, async (_req, reply) => {
    reply.header('content-type', deps.metrics.registry.contentType);
    return deps.metrics.registry.metrics();
  });
};

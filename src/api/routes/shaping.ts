/**
 * /api/v1/delivery/shaping: the restrictions delivery put on providers after their replies
 * (slowed or suspended, per pool, with the reply that caused it) and today's warm-up budgets,
 * of the node that answers; and lifting a provider's restrictions by hand.
 */
import type { FastifyPluginAsync } from 'fastify';
import type { RestrictionView, WarmupView } from '../../../relay/delivery/index.js';
import { HttpError, requireAdmin } from '../auth.js';
import { authErrors, errorSchema } from '../schemas.js';

/** Delivery's shaping, in this thread or in the delivery thread (then each call is a round trip). */
export interface ShapingControl {
  shaping(): { restrictions: RestrictionView[]; warmups: WarmupView[] } | Promise<{ restrictions: RestrictionView[]; warmups: WarmupView[] }>;
  clearShaping(provider: string, pool?: string): number | Promise<number>;
}

export interface ShapingRouteDeps {
  /** Absent when no relay runs in this process (offline CLI): nothing is shaped. */
  delivery?: ShapingControl;
  node: string;
}

const text = { type: 'object', properties: { fr: { type: 'string' }, en: { type: 'string' } } } as const;

const restrictionSchema = {
  type: 'object',
  properties: {
    pool: { type: 'string' },
    provider: { type: 'string' },
    mode: { type: 'string', enum: ['suspended', 'slowed'] },
    category: { type: 'string' },
    level: { type: 'integer' },
    since: { type: 'string', format: 'date-time' },
    until: { type: 'string', format: 'date-time' },
    limits: {
      type: 'object',
      properties: { maxConnections: { type: 'integer' }, messagesPerConnection: { type: 'integer' }, messagesPerMinute: { type: ['integer', 'null'] } },
    },
    triggers: { type: 'integer' },
    cause: {
      type: 'object',
      properties: {
        reply: { type: 'object', properties: { code: { type: 'integer' }, enhanced: { type: 'string' }, text: { type: 'string' } } },
        at: { type: 'string', format: 'date-time' },
        mx: { type: 'string' },
        category: { type: 'string' },
        permanent: { type: 'boolean' },
        rule: { type: 'string' },
        fix: text,
      },
    },
  },
} as const;

const warmupSchema = {
  type: 'object',
  properties: { pool: { type: 'string' }, provider: { type: 'string' }, day: { type: 'string', format: 'date' }, volume: { type: 'integer' }, sent: { type: 'integer' } },
} as const;

const iso = (ms: number) => new Date(ms).toISOString();

export const shapingRoutes: FastifyPluginAsync<ShapingRouteDeps> = async (app, deps) => {
  app.get(
    '/delivery/shaping',
    {
      schema: {
        tags: ['delivery'],
        summary: 'Providers slowed down or suspended after their replies, per pool, with the cause; warm-up budgets of the day (this node)',
        // No parameters: an unknown one is refused (400) like on every other route.
        querystring: { type: 'object', properties: {}, additionalProperties: false },
        response: {
          200: {
            type: 'object',
            properties: {
              node: { type: 'string' },
              running: { type: 'boolean' },
              restrictions: { type: 'array', items: restrictionSchema },
              warmups: { type: 'array', items: warmupSchema },
            },
          },
          ...authErrors,
        },
      },
    },
    async (req) => {
      requireAdmin(req);
      const s = (await deps.delivery?.shaping()) ?? { restrictions: [], warmups: [] };
      return {
        node: deps.node,
        running: !!deps.delivery,
        restrictions: s.restrictions.map((r) => ({
          ...r,
          since: iso(r.since),
          until: iso(r.until),
          cause: { reply: r.cause.reply, at: iso(r.cause.at), mx: r.cause.mx, category: r.cause.class.category, permanent: r.cause.class.permanent, rule: r.cause.class.rule, fix: r.cause.class.fix },
        })),
        warmups: s.warmups.map((w) => ({ ...w, day: iso(w.day * 86_400_000).slice(0, 10) })),
      };
    },
  );

  app.delete<{ Params: { provider: string }; Querystring: { pool?: string } }>(
    '/delivery/shaping/:provider',
    {
      schema: {
        tags: ['delivery'],
        summary: "Lift a provider's restrictions (every pool, or ?pool=)",
        // A provider id, or other:<MX host> for destinations no provider claims.
        params: { type: 'object', properties: { provider: { type: 'string', pattern: '^[a-z0-9_-]{1,64}(:[a-z0-9.:-]{1,253})?$' } }, required: ['provider'] },
        querystring: { type: 'object', properties: { pool: { type: 'string', pattern: '^[A-Za-z0-9_.-]{1,64}$' } }, additionalProperties: false },
        response: { 200: { type: 'object', properties: { cleared: { type: 'integer' } } }, 409: errorSchema, ...authErrors },
      },
    },
    async (req) => {
      requireAdmin(req);
      // 409, not 503: nothing is wrong with the service; there is just nothing to lift here.
      if (!deps.delivery) throw new HttpError(409, "Aucun relais en marche : rien n'est restreint / No relay running: nothing is restricted");
      return { cleared: await deps.delivery.clearShaping(req.params.provider, req.query.pool) };
    },
  );
};

/**
 * JSON schemas shared by routes: each is registered once with addSchema (one serializer, one
 * OpenAPI component named by its $id) and routes point at it with ref(). The schemas every route
 * shares (errors, ok) are registered at the root by buildApi; a resource's own (Tenant, Client…)
 * by its plugin, beside its routes.
 */
import type { FastifyInstance } from 'fastify';

export interface SharedSchema {
  $id: string;
}

/** Names a schema for addSchema/ref (the name is also its OpenAPI component). */
export const shared = <T extends object>($id: string, schema: T): T & SharedSchema => ({ $id, ...schema });

export function addSchemas(app: FastifyInstance, ...schemas: SharedSchema[]): void {
  for (const s of schemas) app.addSchema(s);
}

export const ref = (s: SharedSchema) => ({ $ref: `${s.$id}#` }) as const;

/** The usual list answer: { items: [...] }. */
export const listOf = <T>(items: T) => ({ type: 'object', properties: { items: { type: 'array', items } } }) as const;

export const errorShape = shared('Error', {
  type: 'object',
  properties: { statusCode: { type: 'integer' }, error: { type: 'string' }, message: { type: 'string' } },
  required: ['statusCode', 'message'],
} as const);

const okShape = shared('Ok', { type: 'object', properties: { ok: { type: 'boolean' } }, required: ['ok'] } as const);

/** Registered at the root, for every plugin. */
export const rootSchemas: SharedSchema[] = [errorShape, okShape];

export const errorSchema = ref(errorShape);
export const okSchema = ref(okShape);

/** Standard error responses every authenticated route may give. */
export const authErrors = { 400: errorSchema, 401: errorSchema, 403: errorSchema, 404: errorSchema, 429: errorSchema, 503: errorSchema } as const;

/** ?tenant=<id>: one tenant's view (a tenant token sees only its own). */
export const tenantParam = { type: 'string', maxLength: 64 } as const;
/** A domain in a path, ASCII or Unicode (IDN): routes compare its normalizeDomain form. */
export const domainPattern = '^(?=.{1,253}$)[A-Za-z0-9\\u0080-\\uffff-]+(\\.[A-Za-z0-9\\u0080-\\uffff-]+)+$';
export const tenantQuery = { type: 'object', properties: { tenant: tenantParam }, additionalProperties: false } as const;

/**
 * Serves the web dashboard: static ES modules + CSS from src/dashboard/public (no bundler, no
 * build step at run time) and uPlot from node_modules under /dashboard/vendor/. The page holds no
 * data: everything comes from /api/v1 with the bearer token the user types in, so these routes
 * are public. A strict Content-Security-Policy (no inline script or style) is sent with every file.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type {} from '@fastify/swagger'; // for `schema.hide`
import type { FastifyPluginAsync, FastifyReply } from 'fastify';

export const DASHBOARD_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "font-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

/**
 * tsc does not copy assets: from src/dashboard/plugin.ts the public dir is next to us, from
 * dist/src/dashboard/plugin.js it is back in the source tree.
 */
export function dashboardPublicDir(): string {
  const candidates = [new URL('./public/', import.meta.url), new URL('../../../src/dashboard/public/', import.meta.url)];
  for (const u of candidates) {
    const p = fileURLToPath(u);
    if (existsSync(join(p, 'index.html'))) return p;
  }
  throw new Error(`dashboard assets not found (looked in ${candidates.map((u) => fileURLToPath(u)).join(', ')})`);
}

export function uplotDistDir(): string {
  return join(dirname(createRequire(import.meta.url).resolve('uplot/package.json')), 'dist');
}

function securityHeaders(reply: FastifyReply): void {
  reply.header('content-security-policy', DASHBOARD_CSP);
  reply.header('x-content-type-options', 'nosniff');
  reply.header('referrer-policy', 'no-referrer');
  reply.header('x-frame-options', 'DENY');
  reply.header('cross-origin-opener-policy', 'same-origin');
}

export const dashboardRoutes: FastifyPluginAsync<Record<never, never>> = async (app) => {
  // Added first so it covers every route of this (encapsulated) plugin, static ones included.
  app.addHook('onSend', async (_req, reply, payload) => {
    securityHeaders(reply);
    return payload;
  });
  app.get('/', { schema: { hide: true } }, async (_req, reply) => reply.redirect('/dashboard/', 302));
  app.get('/dashboard', { schema: { hide: true } }, async (_req, reply) => reply.redirect('/dashboard/', 301));

  // Own files: revalidated on every load (ETag), so an upgrade is seen at once without cache busting.
  await app.register(fastifyStatic, {
    root: dashboardPublicDir(),
    prefix: '/dashboard/',
    wildcard: false, // the file list is fixed at start: nothing outside it can ever be served
    index: ['index.html'],
    decorateReply: false,
    cacheControl: false,
    dotfiles: 'ignore',
    setHeaders: (reply) => {
      reply.header('cache-control', 'no-cache');
    },
  });
  await app.register(fastifyStatic, {
    root: uplotDistDir(),
    prefix: '/dashboard/vendor/',
    wildcard: false,
    decorateReply: false,
    cacheControl: false,
    allowedPath: (path) => path === '/uPlot.esm.js' || path === '/uPlot.min.css',
    setHeaders: (reply) => {
      reply.header('cache-control', 'public, max-age=86400');
    },
  });
};

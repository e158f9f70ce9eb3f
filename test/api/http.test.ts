/**
 * The admin API over real HTTP against a running relay: authentication and its messages, scopes,
 * the two rate limits, schema errors naming the field, the OpenAPI document, health and metrics,
 * API tokens, and the first admin token printed once on stderr.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, api, BASE_YAML, sendMail, startApiRelay, until, type ApiRelay } from './helpers.js';

let r: ApiRelay;
let tenantToken: string;
let amapMessage: string;
let ownMessage: string;

const raw = (path: string, init: RequestInit = {}) => fetch(`${r.base}${path}`, init).then(async (res) => ({ status: res.status, headers: res.headers, body: (await res.json().catch(() => null)) as any }));

beforeAll(async () => {
  r = await startApiRelay({ env: { RELAIS_ADMIN_TOKEN: ADMIN_TOKEN } });
  const t = await api(r.base, ADMIN_TOKEN, '/api/v1/tokens', { method: 'POST', body: { name: 'lecture collectif-a', scopes: ['tenant:collectif-a'] } });
  tenantToken = t.body.token;
  ownMessage = (await sendMail(r.relay.smtpPort, 'contact@collectif-a.org', 'camille@example.net')).queueId!;
  amapMessage = (await sendMail(r.relay.smtpPort, 'bureau@amap-b.fr', 'lou@example.net')).queueId!;
  expect(ownMessage).toMatch(/^[0-9A-Z]{16}$/);
  expect(amapMessage).toMatch(/^[0-9A-Z]{16}$/);
});

afterAll(async () => {
  await r?.stop();
});

describe('authentication', () => {
  it('401 without a token, with a bad token, each with a clear message', async () => {
    const none = await raw('/api/v1/whoami');
    expect(none.status).toBe(401);
    expect(none.body).toEqual({ statusCode: 401, error: 'Unauthorized', message: expect.stringContaining('Token required: send "Authorization: Bearer <token>"') });
    const bad = await raw('/api/v1/whoami', { headers: { authorization: 'Bearer rls_000000000000_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' } });
    expect(bad.status).toBe(401);
    expect(bad.body.message).toBe('Jeton invalide / Invalid token');
  });

  it('RELAIS_ADMIN_TOKEN is an admin token', async () => {
    expect((await api(r.base, ADMIN_TOKEN, '/api/v1/whoami')).body).toEqual({ name: 'RELAIS_ADMIN_TOKEN', admin: true });
  });

  it('tokens: the secret is returned once, never listed; a revoked token gets 401', async () => {
    const created = await api(r.base, ADMIN_TOKEN, '/api/v1/tokens', { method: 'POST', body: { name: 'ci', scopes: ['admin'] } });
    expect(created.status).toBe(201);
    const token: string = created.body.token;
    expect(token).toMatch(/^rls_[0-9a-f]{12}_[A-Za-z0-9_-]{43}$/);
    expect(created.body.info).toMatchObject({ id: token.slice(4, 16), name: 'ci', scopes: ['admin'] });
    expect(created.body.info.hash).toBeUndefined();
    expect((await api(r.base, token, '/api/v1/whoami')).body).toMatchObject({ name: 'ci', admin: true });
    const list = await api(r.base, ADMIN_TOKEN, '/api/v1/tokens');
    expect(list.status).toBe(200);
    expect(list.body.map((t: { name: string }) => t.name)).toEqual(expect.arrayContaining(['ci', 'lecture collectif-a']));
    const text = JSON.stringify(list.body);
    expect(text).not.toContain(token.slice(17));
    expect(text).not.toContain('hash');
    expect((await api(r.base, ADMIN_TOKEN, `/api/v1/tokens/${created.body.info.id}`, { method: 'DELETE' })).body).toEqual({ ok: true });
    const after = await api(r.base, token, '/api/v1/whoami');
    expect(after.status).toBe(401);
    expect((await api(r.base, ADMIN_TOKEN, `/api/v1/tokens/${created.body.info.id}`, { method: 'DELETE' })).status).toBe(404);
  });

  it('prints no first admin token when RELAIS_ADMIN_TOKEN is set', () => {
    expect(r.relay.logs.some((l) => /first admin API token|rls_[0-9a-f]{12}_/.test(l))).toBe(false);
  });

  it('without RELAIS_ADMIN_TOKEN, the first start prints an admin token once, on stderr only, and it works', async () => {
    const fresh = await startApiRelay({ redis: false });
    try {
      const lines = await until(() => {
        const l = fresh.relay.logs.filter((x) => /rls_[0-9a-f]{12}_/.test(x));
        return l.length ? l : null;
      }, 'the first admin token on stderr');
      expect(lines).toHaveLength(1);
      expect(lines[0]).not.toMatch(/^\{/); // not a JSON log line
      const token = /rls_[0-9a-f]{12}_[A-Za-z0-9_-]{43}/.exec(lines[0]!)![0];
      expect((await api(fresh.base, token, '/api/v1/whoami')).body).toEqual({ name: 'first-admin', admin: true });
      expect(fresh.relay.logs.some((l) => /first admin API token/.test(l))).toBe(true);
      // Not again on the next start.
      await fresh.restart();
      expect(fresh.relay.logs.some((l) => /rls_[0-9a-f]{12}_/.test(l))).toBe(false);
    } finally {
      await fresh.stop();
    }
  });
});

describe('scopes: a tenant token reads its own tenant only', () => {
  it('403 on admin routes and actions', async () => {
    for (const [method, path, body] of [
      ['GET', '/api/v1/tokens'],
      ['POST', '/api/v1/tokens', { name: 'x', scopes: ['admin'] }],
      ['GET', '/api/v1/clients'],
      ['POST', '/api/v1/tenants', { id: 'pirate', domains: ['pirate.example'] }],
      ['PUT', '/api/v1/tenants/collectif-a', { domains: ['collectif-a.org', 'pirate.example'] }],
      ['PUT', '/api/v1/quotas/contact@collectif-a.org', { limits: { messages_per_hour: 100000 } }],
      ['POST', `/api/v1/queue/${ownMessage}/retry`],
      ['DELETE', `/api/v1/queue/${ownMessage}`],
    ] as const) {
      const res = await api(r.base, tenantToken, path, { method, body });
      expect(res.status, `${method} ${path}`).toBe(403);
      expect(res.body.message).toMatch(/admin/);
    }
  });

  it('403 on another tenant’s data; lists are filtered to its own', async () => {
    expect((await api(r.base, tenantToken, '/api/v1/whoami')).body).toEqual({ name: 'lecture collectif-a', admin: false, tenant: 'collectif-a' });
    const other = await api(r.base, tenantToken, '/api/v1/tenants/amap-b');
    expect(other.status).toBe(403);
    expect(other.body.message).toContain('This token only grants access to tenant collectif-a');
    expect((await api(r.base, tenantToken, '/api/v1/tenants/collectif-a')).status).toBe(200);
    expect((await api(r.base, tenantToken, '/api/v1/tenants')).body.items.map((t: { id: string }) => t.id)).toEqual(['collectif-a']);
    expect((await api(r.base, tenantToken, '/api/v1/quotas/bureau@amap-b.fr')).status).toBe(403);
    expect((await api(r.base, tenantToken, '/api/v1/quotas/amap-b')).status).toBe(403);
    const quotas = await api(r.base, tenantToken, '/api/v1/quotas');
    expect(quotas.status).toBe(200);
    expect(new Set(quotas.body.items.map((q: { tenant: string }) => q.tenant))).toEqual(new Set(['collectif-a']));
    expect((await api(r.base, tenantToken, '/api/v1/quotas?tenant=amap-b')).status).toBe(403);
    const queue = await api(r.base, tenantToken, '/api/v1/queue');
    expect(queue.body.items.map((m: { id: string }) => m.id)).toEqual([ownMessage]);
    expect((await api(r.base, tenantToken, '/api/v1/queue?tenant=amap-b')).status).toBe(403);
    expect((await api(r.base, tenantToken, `/api/v1/queue/${amapMessage}`)).status).toBe(403);
    expect((await api(r.base, tenantToken, `/api/v1/queue/${ownMessage}`)).status).toBe(200);
    expect((await api(r.base, tenantToken, '/api/v1/stats/providers?tenant=amap-b')).status).toBe(403);
    expect((await api(r.base, tenantToken, '/api/v1/stats/overview?tenant=amap-b')).status).toBe(403);
    expect((await api(r.base, tenantToken, '/api/v1/alerts?tenant=amap-b')).status).toBe(403);
    // Stats are flushed to the store every second.
    const overview = await until(async () => {
      const o = await api(r.base, tenantToken, '/api/v1/stats/overview');
      return o.body.today?.accepted && o.body.today?.deferred ? o : null;
    }, 'the verdicts in the stats');
    expect(overview.body.queue).toEqual({ active: 0, deferred: 1, hold: 0 });
    expect(overview.body.today).toMatchObject({ accepted: 1, deferred: 1, delivered: 0 });
  });
});

describe('errors', () => {
  it('400 naming the field for schema errors', async () => {
    const cases: [string, string, unknown, RegExp][] = [
      ['POST', '/api/v1/tenants', { id: 'vide', domains: [] }, /^body\/domains must NOT have fewer than 1 items$/],
      ['POST', '/api/v1/tenants', { id: 'x', domains: ['x.org'], dkim_required: 'peut-être' }, /^body\/dkim_required must be boolean$/],
      ['POST', '/api/v1/tenants', { id: 'Pas Valide', domains: ['x.org'] }, /^body\/id must match pattern/],
      ['POST', '/api/v1/tokens', { name: 'x' }, /^body must have required property 'scopes'$/],
      ['PUT', '/api/v1/quotas/contact@collectif-a.org', { limits: { messages_per_fortnight: 3 } }, /^body\/limits/],
      ['GET', '/api/v1/queue?limit=5000', undefined, /^querystring\/limit must be <= 1000$/],
      ['GET', '/api/v1/queue?state=lost', undefined, /^querystring\/state must be equal to one of the allowed values$/],
      ['GET', '/api/v1/stats/providers?from=hier', undefined, /^querystring\/from must match format "date-time"$/],
    ];
    for (const [method, path, body, re] of cases) {
      const res = await api(r.base, ADMIN_TOKEN, path, { method, body });
      expect(res.status, `${method} ${path}`).toBe(400);
      expect(res.body.error).toBe('Bad Request');
      expect(res.body.message, `${method} ${path}`).toMatch(re);
    }
    // A semantic error of the tenant module names the field too.
    const bad = await api(r.base, ADMIN_TOKEN, '/api/v1/tenants', { method: 'POST', body: { id: 'x', domains: ['pas un domaine'] } });
    expect(bad.status).toBe(400);
    expect(bad.body.message).toMatch(/domains\[0\].*not a valid domain/);
  });

  it('400 for invalid JSON, with a clear message', async () => {
    const res = await raw('/api/v1/tenants', { method: 'POST', headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' }, body: '{"id": "x",' });
    expect(res.status).toBe(400);
    expect(res.body.message).toMatch(/^JSON invalide dans le corps de la requête \/ Invalid JSON body/);
  });

  it('404 for an unknown tenant, message, token or route', async () => {
    const t = await api(r.base, ADMIN_TOKEN, '/api/v1/tenants/inconnu');
    expect(t).toMatchObject({ status: 404, body: { message: 'Locataire inconnu inconnu / Unknown tenant inconnu' } });
    expect((await api(r.base, ADMIN_TOKEN, '/api/v1/queue/0000000000000000')).status).toBe(404);
    const route = await api(r.base, ADMIN_TOKEN, '/api/v1/nulle-part');
    expect(route).toMatchObject({ status: 404, body: { message: 'Route inconnue / Unknown route: GET /api/v1/nulle-part' } });
    expect((await raw('/nulle-part')).status).toBe(404);
  });
});

describe('documents and probes', () => {
  it('the OpenAPI document lists the routes with bearer security', async () => {
    const doc = (await raw('/api/v1/openapi.json')).body;
    expect(doc.openapi).toMatch(/^3\./);
    expect(doc.components.securitySchemes.bearer).toEqual({ type: 'http', scheme: 'bearer' });
    expect(doc.security).toEqual([{ bearer: [] }]);
    for (const p of ['/api/v1/tokens', '/api/v1/tenants', '/api/v1/tenants/{id}', '/api/v1/clients', '/api/v1/quotas/{address}', '/api/v1/queue', '/api/v1/queue/{id}', '/api/v1/queue/{id}/retry', '/api/v1/stats/providers', '/api/v1/stats/timeseries', '/api/v1/stats/demailnagement', '/api/v1/alerts', '/healthz', '/metrics']) {
      expect(doc.paths[p], p).toBeDefined();
    }
    expect(Object.keys(doc.paths['/api/v1/queue/{id}'])).toEqual(expect.arrayContaining(['get', 'delete']));
    expect(doc.paths['/api/v1/tenants'].post.requestBody.content['application/json'].schema.required).toEqual(['id', 'domains']);
    // Shared response schemas are components the routes point at, not copies in every route.
    for (const name of ['Error', 'Ok', 'Tenant', 'Client', 'Token', 'DkimKey', 'DnsRecord', 'QuotaUsage', 'QueueMessage', 'StatsRow', 'Alert', 'Health']) expect(doc.components.schemas[name], name).toBeDefined();
    const responses = doc.paths['/api/v1/tenants/{id}'].get.responses;
    expect(responses['200'].content['application/json'].schema).toEqual({ $ref: '#/components/schemas/Tenant' });
    expect(responses['404'].content['application/json'].schema).toEqual({ $ref: '#/components/schemas/Error' });
  });

  it('/healthz reports store, spool and DNS', async () => {
    const res = await raw('/healthz');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ ok: true, store: { ok: true }, spool: { ok: true }, dns: { ok: true } });
  });

  it('/metrics exposes queue, sessions, verdicts, deliveries and latency', async () => {
    const res = await fetch(`${r.base}/metrics`);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
    const text = await res.text();
    for (const name of ['relais_queue_messages', 'relais_smtp_sessions', 'relais_verdicts_total', 'relais_deliveries_total', 'relais_delivery_latency_seconds']) {
      expect(text).toMatch(new RegExp(`^# TYPE ${name} `, 'm'));
    }
    expect(text).toMatch(/^relais_queue_messages\{state="deferred"\} 2$/m);
    expect(text).toMatch(/^relais_verdicts_total\{action="accept"[^}]*\} 2$/m);
    expect(text).toMatch(/^relais_deliveries_total\{outcome="deferred",provider="other"\} 2$/m);
  });
});

describe('rate limits', () => {
  it('too many failed authentications: 429 from the 11th, before the global limit, even for a good token', async () => {
    const s = await startApiRelay({ env: { RELAIS_ADMIN_TOKEN: ADMIN_TOKEN } });
    try {
      for (let i = 0; i < 10; i++) expect((await api(s.base, `wrong-${i}`, '/api/v1/whoami')).status).toBe(401);
      const blocked = await api(s.base, 'wrong-again', '/api/v1/whoami');
      expect(blocked.status).toBe(429);
      expect(blocked.body.message).toContain('Too many failed authentication attempts');
      const good = await fetch(`${s.base}/api/v1/whoami`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
      expect(good.status).toBe(429);
      expect(Number(good.headers.get('retry-after'))).toBeGreaterThan(0);
      // Probes stay reachable.
      expect((await fetch(`${s.base}/healthz`)).status).toBe(200);
    } finally {
      await s.stop();
    }
  });

  it('the global limit (api.rate_limit_per_minute) answers 429 with the wait', async () => {
    const s = await startApiRelay({ yaml: `${BASE_YAML}api:\n  rate_limit_per_minute: 5\n`, env: { RELAIS_ADMIN_TOKEN: ADMIN_TOKEN } });
    try {
      for (let i = 0; i < 5; i++) expect((await api(s.base, ADMIN_TOKEN, '/api/v1/whoami')).status).toBe(200);
      const res = await fetch(`${s.base}/api/v1/whoami`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
      expect(res.status).toBe(429);
      expect((await res.json()).message).toMatch(/^Trop de requêtes, réessayez dans \d+ s \/ Rate limit exceeded, retry in \d+ s$/);
      expect(res.headers.get('retry-after')).toBeTruthy();
      expect((await fetch(`${s.base}/healthz`)).status).toBe(200);
      expect((await fetch(`${s.base}/metrics`)).status).toBe(200);
    } finally {
      await s.stop();
    }
  });
});

/**
 * What an API token holder can make the relay do is bounded: stats ranges stay within
 * stats.retention_days (each hour or day of a range is one store read; year 9999 used to take
 * the process down), list sizes and body arrays have maxima, and /metrics may require the admin
 * token (api.metrics_token_required).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, api, BASE_YAML, startApiRelay, type ApiRelay } from './helpers.js';

let r: ApiRelay;
let tenantToken: string;
const DAY = 86_400_000;
const iso = (t: number) => new Date(t).toISOString();

beforeAll(async () => {
  r = await startApiRelay({ redis: false, yaml: `${BASE_YAML}stats:\n  retention_days: 30\napi:\n  metrics_token_required: true\n`, env: { RELAIS_ADMIN_TOKEN: ADMIN_TOKEN } });
  tenantToken = (await api(r.base, ADMIN_TOKEN, '/api/v1/tokens', { method: 'POST', body: { name: 'lecture', scopes: ['tenant:collectif-a'] } })).body.token;
});

afterAll(async () => {
  await r?.stop();
});

describe('stats ranges', () => {
  it('400 naming from or to past the retention, in the future or absurd, with any token; the relay keeps answering', async () => {
    const now = Date.now();
    const cases: [string, RegExp][] = [
      [`/api/v1/stats/providers?from=${iso(now - 200 * 365 * DAY)}&to=${iso(now)}`, /querystring\/from must not be older than stats\.retention_days \(30 days\)/],
      [`/api/v1/stats/timeseries?step=hour&from=1826-01-01T00:00:00Z&to=${iso(now)}`, /querystring\/from must not be older than stats\.retention_days/],
      [`/api/v1/stats/tenants?from=${iso(now - DAY)}&to=9999-12-31T00:00:00Z`, /querystring\/to must not be more than one day ahead/],
      ['/api/v1/stats/senders?to=2001-01-01T00:00:00Z', /querystring\/to must not be older than stats\.retention_days/],
      [`/api/v1/stats/domains?from=${iso(now - 31 * DAY - DAY)}`, /querystring\/from must not be older/],
      [`/api/v1/stats/timeseries?from=${iso(now)}&to=${iso(now - DAY)}`, /querystring\/from must be before querystring\/to/],
    ];
    for (const token of [ADMIN_TOKEN, tenantToken]) {
      for (const [path, re] of cases) {
        const res = await api(r.base, token, path);
        expect(res.status, path).toBe(400);
        expect(res.body, path).toEqual({ statusCode: 400, error: 'Bad Request', message: expect.stringMatching(re) });
        expect(res.body.message).toMatch(/^querystring\/(from|to) : /);
      }
    }
    expect((await fetch(`${r.base}/healthz`)).status).toBe(200);
  });

  it('ranges within the retention are served, hourly included', async () => {
    const now = Date.now();
    const series = await api(r.base, tenantToken, `/api/v1/stats/timeseries?step=hour&from=${iso(now - 30 * DAY)}&to=${iso(now)}`);
    expect(series.status).toBe(200);
    expect(series.body.points.length).toBeGreaterThanOrEqual(30 * 24);
    expect((await api(r.base, ADMIN_TOKEN, '/api/v1/stats/providers')).status).toBe(200);
    expect((await api(r.base, ADMIN_TOKEN, `/api/v1/stats/providers?to=${iso(now + 3_600_000)}`)).status).toBe(200);
  });
});

describe('lists and bodies', () => {
  it('page sizes and body arrays have maxima (400 naming the field)', async () => {
    const many = Array.from({ length: 1001 }, (_, i) => `d${i}.example`);
    const cases: [string, string, unknown, RegExp][] = [
      ['GET', '/api/v1/queue?limit=1001', undefined, /^querystring\/limit must be <= 1000$/],
      ['GET', '/api/v1/stats/providers?limit=1001', undefined, /^querystring\/limit must be <= 1000$/],
      ['GET', '/api/v1/listmonk/bounces?limit=1001', undefined, /^querystring\/limit must be <= 1000$/],
      ['POST', '/api/v1/tenants', { id: 'large', domains: many }, /^body\/domains must NOT have more than 1000 items$/],
      ['POST', '/api/v1/clients', { name: 'large', tenants: ['collectif-a'], networks: many.map(() => '10.0.0.1') }, /^body\/networks must NOT have more than 1000 items$/],
      ['POST', '/api/v1/tokens', { name: 'large', scopes: Array(101).fill('admin') }, /^body\/scopes must NOT have more than 100 items$/],
    ];
    for (const [method, path, body, re] of cases) {
      const res = await api(r.base, ADMIN_TOKEN, path, { method, body });
      expect(res.status, `${method} ${path}`).toBe(400);
      expect(res.body.message, `${method} ${path}`).toMatch(re);
    }
  });
});

describe('values sent to the API', () => {
  it('are stored literally: a tenant named ${RELAIS_ADMIN_TOKEN} keeps that name', async () => {
    const created = await api(r.base, ADMIN_TOKEN, '/api/v1/tenants', { method: 'POST', body: { id: 'curieux', name: '${RELAIS_ADMIN_TOKEN}', domains: ['curieux.example'] } });
    expect(created.status).toBe(201);
    const got = await api(r.base, ADMIN_TOKEN, '/api/v1/tenants/curieux');
    expect(got.body.name).toBe('${RELAIS_ADMIN_TOKEN}');
    expect(JSON.stringify(got.body)).not.toContain(ADMIN_TOKEN);
  });
});

describe('/metrics with api.metrics_token_required', () => {
  it('401 without a token, 403 with a tenant token, 200 with an admin token; /healthz stays open', async () => {
    const none = await fetch(`${r.base}/metrics`);
    expect(none.status).toBe(401);
    expect(await none.json()).toMatchObject({ statusCode: 401, error: 'Unauthorized' });
    expect((await fetch(`${r.base}/metrics`, { headers: { authorization: `Bearer ${tenantToken}` } })).status).toBe(403);
    const ok = await fetch(`${r.base}/metrics`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    expect(ok.status).toBe(200);
    expect(await ok.text()).toMatch(/relais_/);
    expect((await fetch(`${r.base}/healthz`)).status).toBe(200);
  });
});

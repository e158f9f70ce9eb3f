/**
 * Tenants and SMTP clients through the admin API of a running relay: changes persist in the
 * store across a restart, win over the YAML seed until reset, apply to the next SMTP transaction
 * without a restart; secrets (Listmonk token, client passwords) are shown once or never, and
 * never logged.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, mailFromReply, sendMail, startApiRelay, until, type ApiRelay } from './helpers.js';

let r: ApiRelay;
const LISTMONK_TOKEN = 'lm-secret-token-NeverShowMe-42';
const secrets: string[] = [LISTMONK_TOKEN];
let firstToken = '';

beforeAll(async () => {
  // No RELAIS_ADMIN_TOKEN: the first start mints an admin token, printed on stderr (which may
  // arrive after the "relais started" line of stdout); the tests work with it.
  r = await startApiRelay();
  firstToken = await until(() => /rls_[0-9a-f]{12}_[A-Za-z0-9_-]{43}/.exec(r.relay.logs.join('\n'))?.[0], 'the first admin token on stderr');
});

afterAll(async () => {
  await r?.stop();
});

const admin = (path: string, init: { method?: string; body?: unknown } = {}) => api(r.base, firstToken, path, init);

describe('tenants', () => {
  it('creates a tenant; the Listmonk token is write-only', async () => {
    const created = await admin('/api/v1/tenants', { method: 'POST', body: { id: 'nouveau', name: 'Nouveau collectif', domains: ['nouveau.org'], listmonk: { url: 'http://127.0.0.1:9/', user: 'relais', token: LISTMONK_TOKEN } } });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ id: 'nouveau', name: 'Nouveau collectif', domains: ['nouveau.org'], source: 'store', listmonk: { url: 'http://127.0.0.1:9', user: 'relais', token_set: true } });
    expect((await admin('/api/v1/tenants', { method: 'POST', body: { id: 'nouveau', domains: ['autre.org'] } })).status).toBe(409);
    // A change without the token keeps it.
    const renamed = await admin('/api/v1/tenants/nouveau', { method: 'PUT', body: { name: 'Nouveau', domains: ['nouveau.org'], listmonk: { url: 'http://127.0.0.1:9/', user: 'relais' } } });
    expect(renamed.status).toBe(200);
    expect(renamed.body.listmonk.token_set).toBe(true);
    for (const res of [created, renamed, await admin('/api/v1/tenants/nouveau'), await admin('/api/v1/tenants')]) {
      expect(JSON.stringify(res.body)).not.toContain(LISTMONK_TOKEN);
      expect(JSON.stringify(res.body)).not.toContain('"token"');
    }
    // A domain already owned by another tenant is refused, naming the conflict.
    const clash = await admin('/api/v1/tenants', { method: 'POST', body: { id: 'squat', domains: ['collectif-a.org'] } });
    expect(clash.status).toBe(400);
    expect(clash.body.message).toContain('collectif-a.org');
  });

  it('a new domain of a tenant is accepted at the next MAIL FROM, without restart', async () => {
    expect((await mailFromReply(r.relay.smtpPort, 'contact@collectif-a.net')).code).toBe(553);
    const put = await admin('/api/v1/tenants/collectif-a', { method: 'PUT', body: { name: 'Collectif A', domains: ['collectif-a.org', 'collectif-a.net'] } });
    expect(put.status).toBe(200);
    expect(put.body).toMatchObject({ domains: ['collectif-a.org', 'collectif-a.net'], source: 'store' });
    expect((await mailFromReply(r.relay.smtpPort, 'contact@collectif-a.net')).code).toBe(250);
  });

  it('run-time changes survive a restart and win over the YAML until reset', async () => {
    await r.restart();
    expect((await api(r.base, firstToken, '/api/v1/whoami')).body.admin).toBe(true);
    expect((await admin('/api/v1/tenants/nouveau')).body).toMatchObject({ id: 'nouveau', name: 'Nouveau', source: 'store', listmonk: { token_set: true } });
    expect((await admin('/api/v1/tenants/collectif-a')).body).toMatchObject({ domains: ['collectif-a.org', 'collectif-a.net'], source: 'store' });
    expect((await mailFromReply(r.relay.smtpPort, 'contact@collectif-a.net')).code).toBe(250);
    // The second start found the token store populated: no new admin token printed (checked
    // after a few round trips, since stderr is a separate pipe).
    expect(r.relay.logs.some((l) => /rls_[0-9a-f]{12}_/.test(l))).toBe(false);

    const reset = await admin('/api/v1/tenants/collectif-a/reset', { method: 'POST' });
    expect(reset.body).toMatchObject({ ok: true, tenant: { domains: ['collectif-a.org'], source: 'seed' } });
    expect((await mailFromReply(r.relay.smtpPort, 'contact@collectif-a.net')).code).toBe(553);
    expect((await mailFromReply(r.relay.smtpPort, 'contact@collectif-a.org')).code).toBe(250);
  });

  it('deletes a tenant (a seed tenant stays deleted until reset)', async () => {
    expect((await admin('/api/v1/tenants/nouveau', { method: 'DELETE' })).body).toEqual({ ok: true });
    expect((await admin('/api/v1/tenants/nouveau')).status).toBe(404);
    expect((await admin('/api/v1/tenants/nouveau', { method: 'DELETE' })).status).toBe(404);
    expect((await admin('/api/v1/tenants/amap-b', { method: 'DELETE' })).body).toEqual({ ok: true });
    expect((await mailFromReply(r.relay.smtpPort, 'bureau@amap-b.fr')).code).toBe(553);
    expect((await admin('/api/v1/tenants/amap-b/reset', { method: 'POST' })).body.tenant).toMatchObject({ id: 'amap-b', source: 'seed' });
    expect((await mailFromReply(r.relay.smtpPort, 'bureau@amap-b.fr')).code).toBe(250);
  });
});

describe('clients', () => {
  let password = '';

  it('creates a client: the password is returned once, never listed', async () => {
    const created = await admin('/api/v1/clients', { method: 'POST', body: { name: 'listmonk-a', tenants: ['collectif-a'], newsletter: false } });
    expect(created.status).toBe(201);
    password = created.body.password;
    expect(password).toMatch(/^[A-Za-z0-9_-]{24}$/);
    secrets.push(password);
    expect(created.body.client).toMatchObject({ name: 'listmonk-a', tenants: ['collectif-a'], has_password: true, disabled: false, source: 'store' });
    const list = await admin('/api/v1/clients');
    expect(list.body.items.map((c: { name: string }) => c.name)).toEqual(['listmonk-a', 'mailcow']);
    expect(JSON.stringify(list.body)).not.toContain(password);
    expect(JSON.stringify(list.body)).not.toContain('scrypt');
    expect((await admin('/api/v1/clients', { method: 'POST', body: { name: 'listmonk-a', tenants: ['collectif-a'] } })).status).toBe(409);
    const unknownTenant = await admin('/api/v1/clients', { method: 'POST', body: { name: 'perdu', tenants: ['inconnu'] } });
    expect(unknownTenant.status).toBe(400);
    expect(unknownTenant.body.message).toContain('inconnu');
  });

  it('AUTH works with it over STARTTLS, for its tenants only', async () => {
    const ok = await sendMail(r.relay.smtpPort, 'lettre@collectif-a.org', 'abonne@example.net', { auth: { user: 'listmonk-a', pass: password } });
    expect(ok.code).toBe(250);
    const wrong = await sendMail(r.relay.smtpPort, 'lettre@collectif-a.org', 'abonne@example.net', { auth: { user: 'listmonk-a', pass: `${password}x` } });
    expect(wrong.code).toBe(535);
    const otherTenant = await sendMail(r.relay.smtpPort, 'bureau@amap-b.fr', 'abonne@example.net', { auth: { user: 'listmonk-a', pass: password } });
    expect(otherTenant.code).toBe(553);
    const env = await admin(`/api/v1/queue/${ok.queueId}`);
    expect(env.body.client).toMatchObject({ name: 'listmonk-a', tls: true, user: 'listmonk-a' });
  });

  it('rotate: a new password, the old one stops working', async () => {
    const rotated = await admin('/api/v1/clients/listmonk-a/rotate', { method: 'POST' });
    expect(rotated.status).toBe(200);
    const fresh: string = rotated.body.password;
    secrets.push(fresh);
    expect(fresh).not.toBe(password);
    expect((await sendMail(r.relay.smtpPort, 'lettre@collectif-a.org', 'abonne@example.net', { auth: { user: 'listmonk-a', pass: password } })).code).toBe(535);
    expect((await sendMail(r.relay.smtpPort, 'lettre@collectif-a.org', 'abonne@example.net', { auth: { user: 'listmonk-a', pass: fresh } })).code).toBe(250);
    password = fresh;
  });

  it('disable → 535 on AUTH; enable → accepted again', async () => {
    expect((await admin('/api/v1/clients/listmonk-a/disable', { method: 'POST' })).body).toMatchObject({ name: 'listmonk-a', disabled: true });
    const refused = await sendMail(r.relay.smtpPort, 'lettre@collectif-a.org', 'abonne@example.net', { auth: { user: 'listmonk-a', pass: password } });
    expect(refused.code).toBe(535);
    expect(refused.response).toMatch(/^535 5\.7\.8 /);
    expect((await admin('/api/v1/clients/listmonk-a/enable', { method: 'POST' })).body).toMatchObject({ disabled: false });
    expect((await sendMail(r.relay.smtpPort, 'lettre@collectif-a.org', 'abonne@example.net', { auth: { user: 'listmonk-a', pass: password } })).code).toBe(250);
    expect((await admin('/api/v1/clients/listmonk-a', { method: 'DELETE' })).body).toEqual({ ok: true });
    expect((await sendMail(r.relay.smtpPort, 'lettre@collectif-a.org', 'abonne@example.net', { auth: { user: 'listmonk-a', pass: password } })).code).toBe(535);
    expect((await admin('/api/v1/clients/listmonk-a/rotate', { method: 'POST' })).status).toBe(404);
  });
});

describe('logs', () => {
  it('never carry the secrets used (Listmonk token, client passwords, token secrets)', () => {
    const logs = r.allLogs();
    expect(logs.length).toBeGreaterThan(10);
    const text = logs.join('\n');
    for (const s of secrets) expect(text, s).not.toContain(s);
    // The first admin token appears once, on the plain stderr line, never in a JSON line.
    expect(logs.filter((l) => l.includes(firstToken))).toHaveLength(1);
    expect(logs.filter((l) => l.startsWith('{')).join('\n')).not.toContain(firstToken.slice(17));
  });
});

/**
 * Quotas and the queue through the admin API of a running relay: usage and reset time, overrides
 * that change the SMTP answer at the next transaction, and the queue's list / show / retry /
 * hold / release / delete (with a DSN to the sender, or silently).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, api, sendMail, startApiRelay, until, type ApiRelay } from './helpers.js';

let r: ApiRelay;
const admin = (path: string, init: { method?: string; body?: unknown } = {}) => api(r.base, ADMIN_TOKEN, path, init);

beforeAll(async () => {
  r = await startApiRelay({ env: { RELAIS_ADMIN_TOKEN: ADMIN_TOKEN } });
});

afterAll(async () => {
  await r?.stop();
});

describe('quotas', () => {
  const who = 'quota@collectif-a.org';
  const send = () => sendMail(r.relay.smtpPort, who, 'ami@example.net');
  const perHour = (body: { limits: { name: string; scope: string }[] }) => body.limits.find((l) => l.name === 'messages_per_hour' && l.scope === 'smtp')!;

  it('reads the usage and the reset time of a mailbox', async () => {
    expect((await send()).code).toBe(250);
    expect((await send()).code).toBe(250);
    const before = Date.now();
    const q = await admin(`/api/v1/quotas/${who}`);
    expect(q.status).toBe(200);
    expect(q.body).toMatchObject({ address: who, level: 'mailbox', tenant: 'collectif-a' });
    const l = perHour(q.body);
    expect(l).toMatchObject({ level: 'mailbox', limit: 200, used: 2, hard: false, override: false, windowMs: 3600_000 });
    const reset = Date.parse(l.resetAt);
    expect(reset).toBeGreaterThan(before);
    // An hour after the first charge, rounded up to the end of its granule (3.6 s).
    expect(reset).toBeLessThanOrEqual(before + 3600_000 + 3600);
    expect((await admin('/api/v1/quotas/collectif-a')).body).toMatchObject({ level: 'tenant', tenant: 'collectif-a' });
    expect((await admin('/api/v1/quotas/collectif-a.org')).body).toMatchObject({ level: 'domain', tenant: 'collectif-a' });
    expect((await admin('/api/v1/quotas/nimporte')).status).toBe(404);
    // The list shows the tenant's recent senders (from the stats, flushed every second).
    await until(async () => (await admin('/api/v1/quotas?tenant=collectif-a')).body.items.some((i: { address: string }) => i.address === who), 'the sender in the quota list');
  });

  it('an override changes the SMTP answer at the next transaction; clearing it restores it', async () => {
    const set = await admin(`/api/v1/quotas/${who}`, { method: 'PUT', body: { limits: { messages_per_hour: 2 } } });
    expect(set.status).toBe(200);
    expect(perHour(set.body)).toMatchObject({ limit: 2, used: 2, override: true, hard: false });
    const soft = await send();
    expect(soft.code).toBe(451);
    expect(soft.response).toMatch(/^451 4\.7\.1 .*réessai possible à .* \/ .*retry after /);

    const hard = await admin(`/api/v1/quotas/${who}`, { method: 'PUT', body: { limits: { messages_per_hour: 2, hard: true } } });
    expect(perHour(hard.body)).toMatchObject({ limit: 2, hard: true, override: true });
    const refused = await send();
    expect(refused.code).toBe(550);
    expect(refused.response).toMatch(/^550 5\.7\.1 .*\(hard limit\)/);

    expect((await admin(`/api/v1/quotas/${who}`, { method: 'DELETE' })).body).toEqual({ ok: true });
    expect(perHour((await admin(`/api/v1/quotas/${who}`)).body)).toMatchObject({ limit: 200, override: false });
    expect((await send()).code).toBe(250);
    expect((await admin(`/api/v1/quotas/${who}`, { method: 'DELETE' })).status).toBe(404);
  });

  it('a negative or non-integer limit is refused naming it', async () => {
    const res = await admin(`/api/v1/quotas/${who}`, { method: 'PUT', body: { limits: { messages_per_hour: -3 } } });
    expect(res.status).toBe(400);
    expect(res.body.message).toContain('messages_per_hour');
  });

  it('resets the usage counters', async () => {
    expect(perHour((await admin(`/api/v1/quotas/${who}`)).body).used).toBe(3);
    expect((await admin(`/api/v1/quotas/${who}/reset`, { method: 'POST' })).body).toEqual({ ok: true });
    expect(perHour((await admin(`/api/v1/quotas/${who}`)).body).used).toBe(0);
  });
});

describe('queue', () => {
  type Item = { id: string; state: string; from: string; tenant?: string; recipients: { address: string; status: string; attempts: number; last?: { code: number; text: string } }[] };
  const ids: Record<string, string> = {};
  const list = async (qs: string) => (await admin(`/api/v1/queue?${qs}`)).body as { total: number; counts: Record<string, number>; items: Item[] };
  const get = async (id: string) => admin(`/api/v1/queue/${id}`);

  beforeAll(async () => {
    for (const [key, from, to] of [
      ['a', 'contact@collectif-a.org', 'a@dest.example'],
      ['b', 'contact@collectif-a.org', 'b@dest.example'],
      ['c', 'contact@collectif-a.org', 'c@autre.example'],
      ['d', 'bureau@amap-b.fr', 'd@dest.example'],
      ['e', 'bureau@amap-b.fr', 'e@dest.example'],
    ] as const) {
      const res = await sendMail(r.relay.smtpPort, from, to, { subject: `Message ${key}` });
      expect(res.code).toBe(250);
      ids[key] = res.queueId!;
    }
    // The smarthost refuses connections: every message gets deferred after its first attempt.
    await until(async () => (await list('state=deferred&domain=dest.example')).total === 4 && (await list('state=deferred&domain=autre.example')).total === 1, 'the five messages deferred');
  });

  it('lists with filters and paging', async () => {
    expect((await list('sender=contact@collectif-a.org')).items.map((i) => i.id).sort()).toEqual([ids.a, ids.b, ids.c].sort());
    expect((await list('tenant=amap-b')).items.map((i) => i.id).sort()).toEqual([ids.d, ids.e].sort());
    expect((await list('recipient=c@autre.example')).items.map((i) => i.id)).toEqual([ids.c]);
    expect((await list('domain=dest.example')).total).toBe(4);
    expect((await list('sender=amap-b.fr')).total).toBe(2); // a domain matches its senders
    const all = await list('domain=dest.example&state=deferred');
    expect(all.counts).toEqual({ active: 0, deferred: 4, hold: 0 });
    const p1 = await list('domain=dest.example&limit=3&offset=0');
    const p2 = await list('domain=dest.example&limit=3&offset=3');
    expect(p1.total).toBe(4);
    expect(p1.items).toHaveLength(3);
    expect(p2.items).toHaveLength(1);
    expect(new Set([...p1.items, ...p2.items].map((i) => i.id))).toEqual(new Set([ids.a, ids.b, ids.d, ids.e]));
    const item = p1.items.find((i) => i.id === ids.a) ?? p2.items.find((i) => i.id === ids.a)!;
    expect(item).toMatchObject({ state: 'deferred', from: 'contact@collectif-a.org', tenant: 'collectif-a', subject: 'Message a' });
    expect(item.recipients[0]).toMatchObject({ address: 'a@dest.example', status: 'deferred', attempts: 1 });
  });

  it('shows one message with its attempt history', async () => {
    const { status, body } = await get(ids.a!);
    expect(status).toBe(200);
    expect(body).toMatchObject({ id: ids.a, kind: 'message', newsletter: false, client: { name: 'mailcow' } });
    expect(body.attempts).toHaveLength(1);
    expect(body.attempts[0]).toMatchObject({ domain: 'dest.example', outcome: 'deferred', recipients: ['a@dest.example'] });
    expect(body.attempts[0].reply.code).toBeGreaterThanOrEqual(400);
    expect(body.recipients[0].last.code).toBe(body.attempts[0].reply.code);
  });

  it('retry now: a new attempt at once', async () => {
    expect((await admin(`/api/v1/queue/${ids.a}/retry`, { method: 'POST' })).body).toEqual({ ok: true });
    const after = await until(async () => {
      const m = await get(ids.a!);
      return m.body.attempts.length === 2 && m.body.state === 'deferred' ? m.body : null;
    }, 'the second attempt');
    expect(after.recipients[0].attempts).toBe(2);
    expect(Date.parse(after.nextAttemptAt)).toBeGreaterThan(Date.now() + 30 * 60_000);
  });

  it('hold and release', async () => {
    expect((await admin(`/api/v1/queue/${ids.b}/hold`, { method: 'POST' })).body).toEqual({ ok: true });
    expect((await get(ids.b!)).body).toMatchObject({ state: 'hold', holdReason: 'held by an admin' });
    expect((await list('state=hold')).items.map((i) => i.id)).toEqual([ids.b]);
    const refused = await admin(`/api/v1/queue/${ids.b}/retry`, { method: 'POST' });
    expect(refused.status).toBe(409);
    expect(refused.body.message).toContain('release it first');
    expect((await admin(`/api/v1/queue/${ids.b}/release`, { method: 'POST' })).body).toEqual({ ok: true });
    const released = await until(async () => {
      const m = await get(ids.b!);
      return m.body.state !== 'hold' && m.body.attempts.length === 2 ? m.body : null;
    }, 'the attempt after release');
    expect(released.holdReason).toBeUndefined();
  });

  it('delete without bounce: gone, nothing sent to the sender', async () => {
    expect((await admin(`/api/v1/queue/${ids.d}?bounce=false`, { method: 'DELETE' })).body).toEqual({ ok: true });
    expect((await get(ids.d!)).status).toBe(404);
    expect((await list('recipient=bureau@amap-b.fr')).total).toBe(0);
    expect((await admin(`/api/v1/queue/${ids.d}`, { method: 'DELETE' })).status).toBe(404);
  });

  it('delete with bounce: gone, and a DSN to the sender is queued', async () => {
    expect((await admin(`/api/v1/queue/${ids.c}?bounce=true`, { method: 'DELETE' })).body).toEqual({ ok: true });
    expect((await get(ids.c!)).status).toBe(404);
    const dsns = (await list('recipient=contact@collectif-a.org')).items;
    expect(dsns).toHaveLength(1);
    expect(dsns[0]).toMatchObject({ from: '', tenant: 'collectif-a', recipients: [{ address: 'contact@collectif-a.org' }] });
    const dsn = (await get(dsns[0]!.id)).body;
    expect(dsn.kind).toBe('dsn');
  });
});

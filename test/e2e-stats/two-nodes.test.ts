/**
 * Reputation stats end to end: two relays sharing one Redis (same prefix, separate data dirs)
 * deliver real mail to test MXs named like Gmail, Microsoft 365 and Orange, which answer with
 * those providers' real refusal texts. The admin API of either node then reports the same
 * figures, added up over both nodes, with the replies categorised and sampled.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, DOMAINS, dropPrefix, newPrefix, startNode, startWorld, until, type StatsNode, type World } from './world.js';

const ADMIN = 'e2e-stats-admin-token-0123456789';
const G = DOMAINS.google;
const M = DOMAINS.microsoft;
const O = DOMAINS.orange;
const X = DOMAINS.other;

// One message per recipient, so every scripted reply concerns exactly one recipient.
const TRAFFIC_A = { from: 'contact@collectif-a.org', to: [`ok-1@${G}`, `ok-2@${G}`, `rate-1@${G}`, `spam-1@${G}`, `ok-1@${M}`, `block-1@${M}`, `ok-1@${O}`, `busy-1@${O}`, `ok-1@${X}`] };
const TRAFFIC_B = { from: 'bureau@amap-b.fr', to: [`ok-3@${G}`, `spam-2@${G}`, `ok-2@${M}`, `ok-3@${M}`, `ok-2@${O}`, `ok-2@${X}`, `ok-3@${X}`] };

/** Attempts per provider over both nodes. rate-1 and busy-1 are deferred once then delivered;
 * the three refusals (spam-1, spam-2, block-1) each send a DSN to the sender, delivered to the
 * sender domain's MX (provider "other"). */
const EXPECTED = {
  google: { sent: 7, delivered: 4, deferred: 1, bounced: 2 },
  microsoft: { sent: 4, delivered: 3, deferred: 0, bounced: 1 },
  orange: { sent: 4, delivered: 3, deferred: 1, bounced: 0 },
  other: { sent: 6, delivered: 6, deferred: 0, bounced: 0 },
};

let world: World;
let prefix: string;
let a: StatsNode;
let b: StatsNode;

type Row = { provider: string; name: string; usGiant: boolean; sent: number; delivered: number; deferred: number; bounced: number; deliveredPct: number; topReasons: { reason: string; outcome: string; count: number; samples: string[] }[] };
const figures = (rows: Row[]) => Object.fromEntries(rows.map((r) => [r.provider, { sent: r.sent, delivered: r.delivered, deferred: r.deferred, bounced: r.bounced }]));

beforeAll(async () => {
  world = await startWorld();
  prefix = newPrefix();
  [a, b] = await Promise.all([startNode(world, { prefix, adminToken: ADMIN }), startNode(world, { prefix, adminToken: ADMIN })]);
  for (const to of TRAFFIC_A.to) expect(await a.send(TRAFFIC_A.from, to)).toMatch(/^250 /);
  for (const to of TRAFFIC_B.to) expect(await b.send(TRAFFIC_B.from, to)).toMatch(/^250 /);
  // Both queues drain (retries of the two deferrals, then the DSNs), and the stats flush.
  await until(async () => {
    const [qa, qb] = await Promise.all([api(a.base, ADMIN, '/api/v1/queue'), api(b.base, ADMIN, '/api/v1/queue')]);
    return qa.body.total === 0 && qb.body.total === 0;
  }, 'both queues to drain', 100_000); // Gmail's 421-4.7.28 slows that provider to 10/min
  await until(async () => JSON.stringify(figures((await api(a.base, ADMIN, '/api/v1/stats/providers')).body.items)) === JSON.stringify(figures((await api(b.base, ADMIN, '/api/v1/stats/providers')).body.items)) && (await api(a.base, ADMIN, '/api/v1/stats/providers')).body.items.reduce((n: number, r: Row) => n + r.sent, 0) === 21, 'stats flushed by both nodes');
}, 180_000);

afterAll(async () => {
  await Promise.all([a?.relay.stop(), b?.relay.stop()]);
  await world?.close();
  await dropPrefix(prefix);
});

describe('stats over two nodes sharing Redis', () => {
  it('the test MXs received what the providers accepted, over TLS, and the DSNs of the refusals', () => {
    const got = world.received();
    const byMx = (mx: string) => got.filter((r) => r.mx === mx).flatMap((r) => r.to).sort();
    expect(byMx('aspmx.l.google.com')).toEqual([`ok-1@${G}`, `ok-2@${G}`, `ok-3@${G}`, `rate-1@${G}`]);
    expect(byMx('outlook-test.mail.protection.outlook.com')).toEqual([`ok-1@${M}`, `ok-2@${M}`, `ok-3@${M}`]);
    expect(byMx('smtp-in.orange.fr')).toEqual([`busy-1@${O}`, `ok-1@${O}`, `ok-2@${O}`]);
    expect(byMx('mx.autre.test')).toEqual(['bureau@amap-b.fr', 'contact@collectif-a.org', 'contact@collectif-a.org', `ok-1@${X}`, `ok-2@${X}`, `ok-3@${X}`]);
    expect(got.filter((r) => r.mx !== 'mx.autre.test').every((r) => r.secure)).toBe(true); // tls_required providers
    const dsns = got.filter((r) => r.from === '');
    expect(dsns).toHaveLength(3);
    expect(dsns.map((d) => d.raw).join('\n')).toMatch(/likely unsolicited|S3150/);
  });

  it('either node reports the same per-provider figures, added up over both nodes', async () => {
    for (const node of [a, b]) {
      const { status, body } = await api<{ providers?: Row[]; items: Row[] }>(node.base, ADMIN, '/api/v1/stats/providers');
      expect(status).toBe(200);
      expect(figures(body.items)).toEqual(EXPECTED);
      expect(body.providers).toBeUndefined();
      const google = body.items.find((r) => r.provider === 'google')!;
      expect(google).toMatchObject({ name: 'Google (Gmail)', usGiant: true, deliveredPct: 57.14 });
      expect(body.items.find((r) => r.provider === 'orange')).toMatchObject({ name: 'Orange (Wanadoo)', usGiant: false });
    }
  });

  it('categorises the refusals and keeps the providers’ replies as samples', async () => {
    const { body } = await api<{ items: Row[] }>(a.base, ADMIN, '/api/v1/stats/providers');
    const reasons = (p: string) => Object.fromEntries(body.items.find((r) => r.provider === p)!.topReasons.map((t) => [`${t.outcome}:${t.reason}`, t]));
    const g = reasons('google');
    expect(Object.keys(g).sort()).toEqual(['bounced:spam_content', 'deferred:reputation_block']);
    expect(g['bounced:spam_content']!.count).toBe(2);
    expect(g['deferred:reputation_block']!.count).toBe(1);
    // Samples: the multi-line replies joined, with their codes.
    expect(g['bounced:spam_content']!.samples.length).toBeGreaterThan(0);
    for (const s of g['bounced:spam_content']!.samples) expect(s).toMatch(/^550 5\.7\.1 Our system has detected that this message is likely unsolicited/);
    expect(g['deferred:reputation_block']!.samples.join('\n')).toMatch(/^421 4\.7\.28 Gmail has detected an unusual rate of unsolicited mail/);
    const m = reasons('microsoft');
    expect(Object.keys(m)).toEqual(['bounced:blocklisted_ip']);
    expect(m['bounced:blocklisted_ip']!.samples[0]).toMatch(/^550 5\.7\.1 Unfortunately, messages from .* block list \(S3150\)/);
    const o = reasons('orange');
    expect(Object.keys(o)).toEqual(['deferred:reputation_block']);
    expect(o['deferred:reputation_block']!.samples[0]).toContain('OFR_999');
    expect(reasons('other')).toEqual({});
  });

  it('time series add up to the same totals, per provider too', async () => {
    const from = new Date(Date.now() - 2 * 3600_000).toISOString();
    const to = new Date(Date.now() + 60_000).toISOString();
    const all = await api(b.base, ADMIN, `/api/v1/stats/timeseries?from=${from}&to=${to}&step=hour`);
    expect(all.status).toBe(200);
    expect(all.body.step).toBe('hour');
    const sum = (points: { delivered: number; deferred: number; bounced: number }[]) =>
      points.reduce((s, p) => ({ delivered: s.delivered + p.delivered, deferred: s.deferred + p.deferred, bounced: s.bounced + p.bounced }), { delivered: 0, deferred: 0, bounced: 0 });
    expect(sum(all.body.points)).toEqual({ delivered: 16, deferred: 2, bounced: 3 });
    const google = await api(a.base, ADMIN, `/api/v1/stats/timeseries?provider=google&from=${from}&to=${to}&step=hour`);
    expect(sum(google.body.points)).toEqual({ delivered: 4, deferred: 1, bounced: 2 });
  });

  it('Démailnagement: Google + Microsoft are the US giants’ share of this month', async () => {
    const { status, body } = await api(a.base, ADMIN, '/api/v1/stats/demailnagement?months=12');
    expect(status).toBe(200);
    expect(body.months).toHaveLength(12);
    const month = body.months.at(-1);
    expect(month.month).toBe(new Date().toISOString().slice(0, 7));
    // Each recipient once (final outcomes): giants 6 + 4, others 3 + 6.
    expect(month).toMatchObject({ total: 19, usGiants: 10, others: 9, usGiantsPct: 52.63 });
    expect(month.deliveredPctUsGiants).toBe(70); // 7 delivered of 10
    expect(month.deliveredPctOthers).toBe(100);
    expect(body.months.slice(0, -1).every((m: { total: number }) => m.total === 0)).toBe(true);
  });

  it('alerts: a spam block at Gmail and a block list at Microsoft, on both nodes', async () => {
    for (const node of [a, b]) {
      const items = await until(async () => {
        const r = await api(node.base, ADMIN, '/api/v1/alerts');
        return r.body.items.length >= 2 ? r.body.items : null;
      }, 'alerts');
      const byId = Object.fromEntries(items.map((x: { id: string }) => [x.id, x]));
      expect(byId['spam_block:provider:microsoft']).toMatchObject({ type: 'spam_block', severity: 'critical', subject: { per: 'provider', id: 'microsoft' }, value: 1 });
      expect(byId['spam_block:provider:google']).toMatchObject({ type: 'spam_block', severity: 'warning', value: 3 });
      expect(byId['spam_block:provider:google'].message.fr).toContain('spam');
    }
    // The "since" is shared through the store: both nodes give the same.
    const sinceA = (await api(a.base, ADMIN, '/api/v1/alerts')).body.items.map((x: { id: string; since: string }) => `${x.id}@${x.since}`).sort();
    const sinceB = (await api(b.base, ADMIN, '/api/v1/alerts')).body.items.map((x: { id: string; since: string }) => `${x.id}@${x.since}`).sort();
    expect(sinceA).toEqual(sinceB);
  });

  it('a tenant token sees only its tenant’s figures, and may not ask for another tenant', async () => {
    const created = await api(a.base, ADMIN, '/api/v1/tokens', { method: 'POST', body: { name: 'collectif-a', scopes: ['tenant:collectif-a'] } });
    expect(created.status).toBe(201);
    const token = created.body.token as string;
    // The token was created on node A and works on node B (shared store).
    const { body } = await api<{ items: Row[] }>(b.base, token, '/api/v1/stats/providers');
    expect(figures(body.items)).toEqual({
      google: { sent: 5, delivered: 3, deferred: 1, bounced: 1 },
      microsoft: { sent: 2, delivered: 1, deferred: 0, bounced: 1 },
      orange: { sent: 3, delivered: 2, deferred: 1, bounced: 0 },
      other: { sent: 3, delivered: 3, deferred: 0, bounced: 0 }, // ok-1 and the two DSNs to contact@
    });
    const spam = body.items.find((r) => r.provider === 'google')!.topReasons.find((t) => t.outcome === 'bounced')!;
    expect(spam.count).toBe(1);
    expect((await api(b.base, token, '/api/v1/stats/providers?tenant=amap-b')).status).toBe(403);
    const tenants = await api(a.base, token, '/api/v1/stats/tenants');
    expect(tenants.body.items.map((r: { id: string }) => r.id)).toEqual(['collectif-a']);
    const senders = await api(a.base, token, '/api/v1/stats/senders');
    expect(senders.body.items.map((r: { id: string }) => r.id)).not.toContain('bureau@amap-b.fr');
    const dem = await api(a.base, token, '/api/v1/stats/demailnagement?months=1');
    expect(dem.body.months[0]).toMatchObject({ total: 11, usGiants: 6 }); // final outcomes: google 3+1, microsoft 1+1, orange 2, other 3
    const alerts = await api(a.base, token, '/api/v1/alerts');
    expect(alerts.status).toBe(200);
    for (const x of alerts.body.items) expect(x.tenant).toBe('collectif-a');
    // Orange's OFR_999 (IP suspended after earlier breaches) is a reputation block: it alerts too.
    expect(alerts.body.items.map((x: { id: string }) => x.id).sort()).toEqual(['spam_block:provider:t=collectif-a/google', 'spam_block:provider:t=collectif-a/microsoft', 'spam_block:provider:t=collectif-a/orange']);
    // Its quota list works although DSNs (sent as MAILER-DAEMON@relais.test) are part of its traffic.
    const quotas = await api(a.base, token, '/api/v1/quotas');
    expect(quotas.status).toBe(200);
    expect(quotas.body.items.map((q: { address: string }) => q.address).sort()).toEqual(['collectif-a', 'collectif-a.org', 'contact@collectif-a.org']);
    // The admin's view per tenant matches the tenant's own.
    const adminView = await api<{ items: Row[] }>(a.base, ADMIN, '/api/v1/stats/providers?tenant=collectif-a');
    expect(figures(adminView.body.items)).toEqual(figures(body.items));
  });
});

/**
 * Reply-driven shaping over real sockets: a Gmail-like MX that starts answering
 * "421 4.7.28 unusual rate" is backed off (at most a quarter of its attempts) while another
 * provider's MX keeps its configured rate; the shaping route shows the cause; once the MX
 * accepts again delivery resumes and nothing was bounced. Replies are classified by the
 * classifier delivery is wired with in production (src/wiring/delivery.ts). Durations are
 * shorter than the defaults of config/providers.yaml to keep the test fast.
 */
import Fastify from 'fastify';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { buildProviderCatalog, type ProviderCatalog } from '../../config/providers.js';
import { createDelivery } from '../../relay/delivery/index.js';
import { shapingRoutes } from '../../src/api/routes/shaping.js';
import { addSchemas, rootSchemas } from '../../src/api/schemas.js';
import { startDnsServer, type TestDnsServer } from '../helpers/dns-server.js';
import { enqueue, freePort, log, openSpool, startMx, type TestMx, waitFor, sleep } from './helpers.js';

let dns: TestDnsServer;
let port: number;
let gmail: TestMx;
let other: TestMx;
let stranger: TestMx;

beforeAll(async () => {
  port = await freePort();
  gmail = await startMx('127.0.0.7', port);
  other = await startMx('127.0.0.8', port);
  stranger = await startMx('127.0.0.10', port);
  dns = await startDnsServer({
    'gmail.test': { MX: [{ exchange: 'gmail-smtp-in.l.google.test', priority: 5 }] },
    'gmail-smtp-in.l.google.test': { A: ['127.0.0.7'] },
    'other.test': { MX: [{ exchange: 'mx.other.test', priority: 10 }] },
    'mx.other.test': { A: ['127.0.0.8'] },
    'stranger.test': { MX: [{ exchange: 'mx.stranger.test', priority: 10 }] },
    'mx.stranger.test': { A: ['127.0.0.10'] },
  });
});

afterAll(async () => {
  await Promise.all([gmail.close(), other.close(), stranger.close(), dns.close()]);
});

/** Gmail-like at 1200/min, everything else at 600/min; the actions of config/providers.yaml, in seconds instead of minutes. */
const catalog: ProviderCatalog = buildProviderCatalog({
  defaults: { max_connections: 2, messages_per_connection: 100, messages_per_minute: 600, tls_required: false },
  providers: [{ id: 'google', name: 'Google', mx: ['*.google.test'], shaping: { messages_per_minute: 1200 } }],
  automation: {
    probe_interval: '1s',
    relax_step: '300ms',
    rules: {
      rate_limited: { action: 'slow', factor: 0.25, duration: '2s', max_duration: '20s' },
      reputation_block: { action: 'suspend', factor: 0.25, duration: '2s', max_duration: '20s' },
      blocklisted_ip: { action: 'suspend', factor: 0.25, duration: '5s', max_duration: '1m' },
      authentication: { action: 'suspend', factor: 0.5, duration: '5s', max_duration: '1m' },
    },
  },
});

/** RCPT commands seen by an MX, with their time. */
function rcptLog(mx: TestMx, answer: () => string | undefined): number[] {
  const at: number[] = [];
  mx.rcpt = () => {
    at.push(Date.now());
    return answer();
  };
  return at;
}
const between = (times: number[], from: number, to: number) => times.filter((t) => t >= from && t < to).length;

describe('provider suspension after 421 4.7.28', () => {
  test('the provider gets at most a quarter of its attempts, others keep their rate, the route shows the cause, delivery resumes, nothing bounces', async () => {
    const ts = await openSpool();
    const bounced: string[] = [];
    const delivery = createDelivery({
      spool: ts.spool,
      log,
      options: { hostname: 'relais.test', dnsServers: [dns.server], port, allowPrivateMx: true, mtaSts: false, retryFirstMs: 60_000, maxInFlight: 50 },
      providers: catalog,
      observer: { onFinalBounce: (e) => bounced.push(e.recipient) },
    });
    let refuse = false;
    const gmailRcpt = rcptLog(gmail, () => (refuse ? '421 4.7.28 Gmail has detected an unusual rate of unsolicited mail originating from your IP address. To protect our users from spam, mail sent from your IP address has been temporarily rate limited.' : undefined));
    const otherRcpt = rcptLog(other, () => undefined);
    for (let i = 0; i < 150; i++) await enqueue(ts.spool, { from: 'ami@collectif.test', to: [`u${i}@gmail.test`] });
    delivery.start();

    // Before: Gmail receives at its configured rate (20/s).
    await waitFor(() => gmailRcpt.length >= 10 || null, 'deliveries to gmail', 20_000);
    const w = 3000;
    const t0 = Date.now();
    await sleep(w);
    const before = between(gmailRcpt, t0, t0 + w);
    expect(before).toBeGreaterThanOrEqual(20);

    // The MX starts refusing; the other provider gets mail of its own meanwhile.
    refuse = true;
    const tRefuse = Date.now();
    for (let i = 0; i < 80; i++) await enqueue(ts.spool, { from: 'ami@collectif.test', to: [`v${i}@other.test`] });
    await waitFor(() => delivery.shaping().restrictions.length > 0 || null, 'google restricted', 10_000);
    // Attempts already under way when the first 421 came back are not the shaper's to stop.
    const t1 = Math.max(Date.now(), tRefuse + 500);
    await sleep(t1 + w - Date.now());
    const during = between(gmailRcpt, t1, t1 + w);
    const otherDuring = between(otherRcpt, t1, t1 + w);
    expect(during).toBeLessThanOrEqual(before / 4);
    // 600/min is 30 in 3 s: allow the shared CPU its slack, but far above a slowed provider.
    expect(otherDuring).toBeGreaterThanOrEqual(18);

    // The route shows what was restricted, when, until when, and the reply that caused it.
    const app = Fastify();
    addSchemas(app, ...rootSchemas); // the shared error schema the routes refer to, as the server registers it
    app.addHook('onRequest', async (req) => {
      req.principal = { tokenId: 't', name: 'test', admin: true };
    });
    await app.register(shapingRoutes, { prefix: '/api/v1', delivery, node: 'relais.test' });
    const res = await app.inject({ method: 'GET', url: '/api/v1/delivery/shaping' });
    expect(res.statusCode).toBe(200);
    const body = res.json() as { restrictions: Array<Record<string, any>> };
    expect(body.restrictions).toHaveLength(1);
    const r = body.restrictions[0]!;
    expect(r).toMatchObject({ provider: 'google', pool: 'default' });
    expect(['rate_limited', 'reputation_block']).toContain(r.category);
    expect(r.cause.reply).toMatchObject({ code: 421, enhanced: '4.7.28' });
    expect(r.cause.mx).toBe('gmail-smtp-in.l.google.test');
    expect(Date.parse(r.until)).toBeGreaterThan(Date.parse(r.since));
    expect(Date.parse(r.cause.at)).toBeGreaterThanOrEqual(tRefuse);
    await app.close();

    // The MX accepts again: delivery to it resumes (within 2 minutes; here within seconds).
    refuse = false;
    const received = gmail.received.length;
    const tBack = Date.now();
    await waitFor(() => gmail.received.length > received || null, 'gmail delivery resumed', 120_000);
    expect(Date.now() - tBack).toBeLessThan(120_000);
    // Everything not refused leaves; the refused ones wait for their retry, still queued.
    await waitFor(() => ts.spool.list().every((e) => e.recipients.every((x) => x.status !== 'pending')) || null, 'parked mail delivered', 60_000);
    const deferred = ts.spool.list();
    expect(deferred.length).toBeGreaterThan(0);
    expect(deferred.every((e) => e.recipients.every((x) => x.status === 'deferred' && x.last?.code === 421))).toBe(true);
    expect(bounced).toEqual([]);
    expect(delivery.stats().bounced).toBe(0);
    expect(ts.spool.list().some((e) => e.kind === 'dsn')).toBe(false);
    expect(other.received.filter((m) => m.to[0]!.endsWith('@other.test')).length).toBe(80);
    await delivery.stop();
    await ts.cleanup();
  }, 180_000);

  test('destinations no provider claims are restricted per MX: one domain complaining slows no other', async () => {
    const ts = await openSpool();
    const delivery = createDelivery({
      spool: ts.spool,
      log,
      options: { hostname: 'relais.test', dnsServers: [dns.server], port, allowPrivateMx: true, mtaSts: false, retryFirstMs: 60_000 },
      providers: catalog,
    });
    const refused = rcptLog(stranger, () => '421 4.7.28 Our system has detected an unusual rate of unsolicited mail originating from your IP address.');
    rcptLog(other, () => undefined);
    const before = other.received.length;
    for (let i = 0; i < 30; i++) await enqueue(ts.spool, { from: 'ami@collectif.test', to: [`s${i}@stranger.test`] });
    for (let i = 0; i < 30; i++) await enqueue(ts.spool, { from: 'ami@collectif.test', to: [`w${i}@other.test`] });
    delivery.start();
    await waitFor(() => other.received.length >= before + 30 || null, 'mail to the other unclaimed domain', 30_000);
    const restricted = delivery.shaping().restrictions;
    expect(restricted.map((r) => r.provider)).toEqual(['other:mx.stranger.test']);
    // What was under way when the first refusal came back, then probes: far from the 30 queued.
    expect(refused.length).toBeLessThanOrEqual(10);
    expect(delivery.stats().bounced).toBe(0);
    await delivery.stop();
    await ts.cleanup();
  });
});

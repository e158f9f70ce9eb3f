import { Writable } from 'node:stream';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { buildProviderCatalog, type ProviderCatalog } from '../../config/providers.js';
import { createDelivery, type AttemptEvent } from '../../relay/delivery/index.js';
import { startDnsServer, type TestDnsServer } from '../helpers/dns-server.js';
import { enqueue, freePort, openSpool, startMx, type TestMx, waitFor } from './helpers.js';

let dns: TestDnsServer;
let port: number;
let gmx: TestMx;

beforeAll(async () => {
  port = await freePort();
  gmx = await startMx('127.0.0.7', port);
  dns = await startDnsServer({
    'g.test': { MX: [{ exchange: 'alt1.gmail-smtp-in.l.google.test', priority: 5 }] },
    'g2.test': { MX: [{ exchange: 'alt1.gmail-smtp-in.l.google.test', priority: 5 }] },
    'alt1.gmail-smtp-in.l.google.test': { A: ['127.0.0.7'] },
  });
});

afterAll(async () => {
  await Promise.all([gmx.close(), dns.close()]);
});

/** The production catalogue type, built from a providers.yaml document (google = *.google.test). */
function catalog(shaping: Record<string, unknown>, throttleRules: unknown[] = []): ProviderCatalog {
  return buildProviderCatalog({
    defaults: { max_connections: 10, messages_per_connection: 100, messages_per_minute: null, tls_required: false },
    providers: [{ id: 'google', name: 'Google', mx: ['*.google.test'], shaping: { max_connections: 2, messages_per_connection: 3, ...shaping } }],
    throttle_rules: throttleRules,
  });
}

function capture() {
  const lines: Array<Record<string, unknown>> = [];
  const stream = new Writable({
    write(chunk, _enc, cb) {
      for (const l of chunk.toString().split('\n')) if (l.trim()) lines.push(JSON.parse(l));
      cb();
    },
  });
  return { log: pino({ level: 'info' }, stream), lines };
}

describe('provider shaping', () => {
  test('concurrency at the MX never exceeds max_connections; connections are reused', async () => {
    gmx.connections.max = 0;
    const total0 = gmx.connections.total;
    const received0 = gmx.received.length;
    const ts = await openSpool();
    const { log } = capture();
    const delivery = createDelivery({
      spool: ts.spool,
      log,
      options: { hostname: 'relais.test', dnsServers: [dns.server], port, allowPrivateMx: true, mtaSts: false, idleTimeoutMs: 200 },
      providers: catalog({ max_connections: 2, messages_per_connection: 3 }),
    });
    for (let i = 0; i < 24; i++) await enqueue(ts.spool, { from: '', to: [`u${i}@${i % 2 ? 'g.test' : 'g2.test'}`] });
    delivery.start();
    await waitFor(() => ts.spool.size === 0, 'all delivered', 20_000);
    expect(gmx.received.length - received0).toBe(24);
    expect(gmx.connections.max).toBeLessThanOrEqual(2);
    expect(gmx.connections.max).toBeGreaterThanOrEqual(1);
    const used = gmx.connections.total - total0;
    // 3 messages per connection at most, so at least 8 connections; reuse means fewer than 24.
    expect(used).toBeGreaterThanOrEqual(8);
    expect(used).toBeLessThan(24);
    await delivery.stop();
    await ts.cleanup();
  });

  test('a 421-4.7.28 reply slows the provider down per the rule, logged, then ramps back up', async () => {
    const ts = await openSpool();
    const { log, lines } = capture();
    const attempts: AttemptEvent[] = [];
    const rules = [
      { provider: 'google', match: { code: 421, enhanced: '^4\\.7\\.28$', text: 'unusual rate' }, action: { messages_per_minute: 300 }, duration: '1500ms' },
    ];
    const delivery = createDelivery({
      spool: ts.spool,
      log,
      options: { hostname: 'relais.test', dnsServers: [dns.server], port, allowPrivateMx: true, mtaSts: false, retryFirstMs: 10, throttleRampStepMs: 100 },
      providers: catalog({ max_connections: 5, messages_per_connection: 100 }, rules),
      observer: { onAttempt: (e) => attempts.push(e) },
    });
    delivery.start();
    let refuse = true;
    gmx.rcpt = () => (refuse ? '421 4.7.28 Our system has detected an unusual rate of unsolicited mail' : undefined);
    const first = await enqueue(ts.spool, { from: '', to: ['a@g.test'] });
    await waitFor(() => attempts.some((a) => a.env.id === first.id && a.outcome === 'deferred'), 'deferred on 421');
    refuse = false;
    expect(attempts[0]!.reply).toMatchObject({ code: 421, enhanced: '4.7.28' });
    expect(delivery.stats().throttled.google).toMatchObject({ messagesPerMinute: 300 });
    const slowed = lines.find((l) => l.msg === 'throttle: provider slowed down after a matching reply');
    expect(slowed).toMatchObject({ provider: 'google', to: { messagesPerMinute: 300 } });

    // Paced at 300/min = one message every 200 ms.
    const before = gmx.received.length;
    const t0 = Date.now();
    for (let i = 0; i < 4; i++) await enqueue(ts.spool, { from: '', to: [`p${i}@g.test`] });
    await waitFor(() => gmx.received.length >= before + 4 || null, 'paced deliveries', 10_000);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(3 * 200 - 50);

    // After the duration the limit doubles each ramp step until the configured value is back.
    await waitFor(() => Object.keys(delivery.stats().throttled).length === 0 || null, 'throttle lifted', 10_000);
    expect(lines.some((l) => l.msg === 'throttle: ramping provider back up' && l.provider === 'google')).toBe(true);
    expect(lines.some((l) => l.msg === 'throttle: provider back to its configured limits')).toBe(true);
    await delivery.stop();
    await ts.cleanup();
  });
});

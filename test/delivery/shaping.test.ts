import { Writable } from 'node:stream';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { buildProviderCatalog, type ProviderCatalog } from '../../config/providers.js';
import { createDelivery } from '../../relay/delivery/index.js';
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
function catalog(shaping: Record<string, unknown>): ProviderCatalog {
  return buildProviderCatalog({
    defaults: { max_connections: 10, messages_per_connection: 100, messages_per_minute: null, tls_required: false },
    providers: [{ id: 'google', name: 'Google', mx: ['*.google.test'], shaping: { max_connections: 2, messages_per_connection: 3, ...shaping } }],
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
});

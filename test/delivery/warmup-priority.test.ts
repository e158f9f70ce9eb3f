/**
 * Warm-up and priorities over real sockets: a pool on its first warm-up day sends its day's
 * volume and no more (the rest waits in the queue), newsletter mail leaving the last share of
 * it to person-to-person mail, which is taken first.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { buildProviderCatalog } from '../../config/providers.js';
import { createDelivery } from '../../relay/delivery/index.js';
import { startDnsServer, type TestDnsServer } from '../helpers/dns-server.js';
import { enqueue, freePort, log, openSpool, sleep, startMx, type TestMx, waitFor } from './helpers.js';

let dns: TestDnsServer;
let port: number;
let mx: TestMx;

beforeAll(async () => {
  port = await freePort();
  mx = await startMx('127.0.0.9', port);
  dns = await startDnsServer({
    'gmail.test': { MX: [{ exchange: 'gmail-smtp-in.l.google.test', priority: 5 }] },
    'gmail-smtp-in.l.google.test': { A: ['127.0.0.9'] },
  });
});

afterAll(async () => {
  await Promise.all([mx.close(), dns.close()]);
});

const catalog = buildProviderCatalog({
  defaults: { max_connections: 2, messages_per_connection: 100, messages_per_minute: null },
  providers: [{ id: 'google', name: 'Google', mx: ['*.google.test'] }],
});

describe('warm-up and priorities', () => {
  test("the day's volume leaves, newsletters keep a tenth of it for personal mail, the rest stays queued", async () => {
    const ts = await openSpool();
    const today = Date.UTC(new Date().getUTCFullYear(), new Date().getUTCMonth(), new Date().getUTCDate());
    const delivery = createDelivery({
      spool: ts.spool,
      log,
      options: {
        hostname: 'relais.test',
        dnsServers: [dns.server],
        port,
        allowPrivateMx: true,
        mtaSts: false,
        pools: { news: { warmup: { startDay: today, initial: 10, growth: 2, max: 1000 } } },
      },
      providers: catalog,
    });
    for (let i = 0; i < 30; i++) await enqueue(ts.spool, { from: 'lettre@collectif.test', to: [`n${i}@gmail.test`], newsletter: true, pool: 'news' });
    for (let i = 0; i < 3; i++) await enqueue(ts.spool, { from: 'ami@collectif.test', to: [`p${i}@gmail.test`], pool: 'news' });
    delivery.start();
    await waitFor(() => mx.received.length >= 9 || null, 'warm-up volume sent');
    await sleep(500);
    // Personal mail first (3), newsletters up to 90 % of 10 (6 more), one message kept for personal mail.
    const personal = () => mx.received.filter((m) => m.to[0]!.startsWith('p')).length;
    expect(mx.received).toHaveLength(9);
    expect(personal()).toBe(3);
    expect(delivery.shaping().warmups).toEqual([{ pool: 'news', provider: 'google', day: Math.floor(Date.now() / 86_400_000), volume: 10, sent: 9 }]);
    await enqueue(ts.spool, { from: 'ami@collectif.test', to: ['late@gmail.test'], pool: 'news' });
    await waitFor(() => mx.received.some((m) => m.to[0] === 'late@gmail.test') || null, 'personal mail within the reserve');
    await sleep(300);
    expect(mx.received).toHaveLength(10);
    // The rest waits in the queue, untouched: not attempted, not bounced.
    expect(ts.spool.size).toBe(24);
    expect(ts.spool.list().every((e) => e.newsletter && e.recipients[0]!.status === 'pending' && e.recipients[0]!.attempts === 0)).toBe(true);
    expect(delivery.stats()).toMatchObject({ bounced: 0, deferred: 0, parked: 24 });
    await delivery.stop();
    await ts.cleanup();
  });
});

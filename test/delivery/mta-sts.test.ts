/**
 * MTA-STS against a real HTTPS policy host. Certificates in fixtures/ come from a throw-away
 * test CA (sts.pem: mta-sts.sts.test + mx.sts.test, valid 100 years) passed as `caCerts`.
 */
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createDelivery, type AttemptEvent } from '../../relay/delivery/index.js';
import { startDnsServer, type TestDnsServer } from '../helpers/dns-server.js';
import { enqueue, freePort, log, openSpool, startMx, type TestMx, waitFor } from './helpers.js';

const fx = (f: string) => readFileSync(join(import.meta.dirname, 'fixtures', f), 'utf8');

let dns: TestDnsServer;
let port: number;
let https: Server;
let httpsPort: number;
let rogue: TestMx;
let good: TestMx;
let policyFetches = 0;

beforeAll(async () => {
  port = await freePort();
  rogue = await startMx('127.0.0.12', port);
  good = await startMx('127.0.0.13', port, { disabledCommands: [], key: fx('sts.key'), cert: fx('sts.pem') });
  https = createServer({ key: fx('sts.key'), cert: fx('sts.pem') }, (req, res) => {
    if (req.url !== '/.well-known/mta-sts.txt' || req.headers.host?.split(':')[0] !== 'mta-sts.sts.test') {
      res.writeHead(404).end();
      return;
    }
    policyFetches++;
    res.writeHead(200, { 'content-type': 'text/plain' }).end('version: STSv1\r\nmode: enforce\r\nmx: mx.sts.test\r\nmax_age: 86400\r\n');
  });
  await new Promise<void>((r) => https.listen(0, '127.0.0.11', r));
  httpsPort = (https.address() as { port: number }).port;
  dns = await startDnsServer({
    'sts.test': { MX: [{ exchange: 'rogue.sts.test', priority: 5 }, { exchange: 'mx.sts.test', priority: 10 }] },
    '_mta-sts.sts.test': { TXT: ['v=STSv1; id=20250101T000000;'] },
    'mta-sts.sts.test': { A: ['127.0.0.11'] },
    'rogue.sts.test': { A: ['127.0.0.12'] },
    'mx.sts.test': { A: ['127.0.0.13'] },
  });
});

afterAll(async () => {
  await Promise.all([rogue.close(), good.close(), dns.close(), new Promise((r) => https.close(r))]);
});

describe('MTA-STS', () => {
  test('enforce: only policy MX hosts, over verified TLS; policy cached', async () => {
    const ts = await openSpool();
    const attempts: AttemptEvent[] = [];
    const delivery = createDelivery({
      spool: ts.spool,
      log,
      options: { hostname: 'relais.test', dnsServers: [dns.server], routeCacheMs: 0, port, allowPrivateMx: true, mtaStsPort: httpsPort, caCerts: [fx('ca.pem')] },
      observer: { onAttempt: (e) => attempts.push(e) },
    });
    delivery.start();
    await enqueue(ts.spool, { from: '', to: ['a@sts.test'] });
    await enqueue(ts.spool, { from: '', to: ['b@sts.test'] });
    await waitFor(() => ts.spool.size === 0, 'delivered');
    expect(rogue.connections.total).toBe(0);
    expect(good.received.map((m) => [m.to[0], m.secure])).toEqual(expect.arrayContaining([['a@sts.test', true], ['b@sts.test', true]]));
    expect(policyFetches).toBe(1);

    // The policy lists no remaining MX: defer, never fall back to an unlisted host.
    dns.zones['sts.test'] = { MX: [{ exchange: 'rogue.sts.test', priority: 5 }] };
    const env = await enqueue(ts.spool, { from: '', to: ['c@sts.test'] });
    await waitFor(() => ts.spool.get(env.id)?.state === 'deferred', 'deferred');
    expect(attempts.at(-1)).toMatchObject({ outcome: 'deferred', phase: 'policy', reply: { enhanced: '4.7.5' } });
    expect(rogue.connections.total).toBe(0);
    await delivery.stop();
    await ts.cleanup();
  });
});

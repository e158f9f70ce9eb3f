import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createDelivery, type AttemptEvent, type Delivery, type DeliveryOptions } from '../../relay/delivery/index.js';
import { startDnsServer, type TestDnsServer } from '../helpers/dns-server.js';
import { enqueue, freePort, log, openSpool, startMx, type TestMx, type TestSpool, waitFor } from './helpers.js';

let dns: TestDnsServer;
let port: number;
let mxA: TestMx;
let mxB: TestMx;

beforeAll(async () => {
  port = await freePort();
  mxA = await startMx('127.0.0.2', port);
  mxB = await startMx('127.0.0.3', port);
  dns = await startDnsServer({
    'ok.test': { MX: [{ exchange: 'mx.ok.test', priority: 10 }] },
    'mx.ok.test': { A: ['127.0.0.2'] },
    // First MX refuses connections (nothing listens on 127.0.0.9), the second accepts.
    'multi.test': { MX: [{ exchange: 'dead.multi.test', priority: 5 }, { exchange: 'live.multi.test', priority: 20 }] },
    'dead.multi.test': { A: ['127.0.0.9'] },
    'live.multi.test': { A: ['127.0.0.3'] },
    'nullmx.test': { MX: [{ exchange: '', priority: 0 }] },
    'slow.test': { timeout: true },
    'broken.test': { servfail: true },
    // No MX: implicit MX on the domain's own address (RFC 5321 §5.1).
    'implicit.test': { A: ['127.0.0.3'] },
    'v6.test': { MX: [{ exchange: 'mx.v6.test', priority: 10 }] },
    'mx.v6.test': { AAAA: ['::1'] },
    'private.test': { MX: [{ exchange: 'mx.private.test', priority: 10 }] },
    'mx.private.test': { A: ['127.0.0.2'] },
    'sender.test': { MX: [{ exchange: 'mx.ok.test', priority: 10 }] },
  });
});

afterAll(async () => {
  await Promise.all([mxA.close(), mxB.close(), dns.close()]);
});

async function setup(extra: DeliveryOptions = {}) {
  const ts: TestSpool = await openSpool();
  const attempts: AttemptEvent[] = [];
  const delivery: Delivery = createDelivery({
    spool: ts.spool,
    log,
    options: {
      hostname: 'relais.test',
      dnsServers: [dns.server],
      dnsTimeoutMs: 300,
      dnsTries: 1,
      routeCacheMs: 0,
      port,
      allowPrivateMx: true,
      connectTimeoutMs: 2000,
      retryFirstMs: 60_000,
      ...extra,
    },
    observer: { onAttempt: (e) => attempts.push(e) },
  });
  delivery.start();
  return { ...ts, delivery, attempts };
}

describe('routing', () => {
  test('falls back to the next MX when the first refuses connections', async () => {
    const s = await setup();
    const before = mxB.received.length;
    await enqueue(s.spool, { from: 'a@sender.test', to: ['bob@multi.test'] });
    await waitFor(() => mxB.received.length > before, 'delivery at the second MX');
    expect(mxB.received.at(-1)!.to).toEqual(['bob@multi.test']);
    await waitFor(() => s.spool.size === 0, 'message removed');
    expect(s.attempts.at(-1)).toMatchObject({ outcome: 'delivered', domain: 'multi.test', mx: 'live.multi.test', reply: { code: 250 } });
    await s.delivery.stop();
    await s.cleanup();
  });

  test('implicit MX and IPv6 MX addresses', async () => {
    const s = await setup();
    const v6 = await startMx('::1', port).catch(() => null);
    await enqueue(s.spool, { from: 'a@sender.test', to: ['x@implicit.test'] });
    if (v6) await enqueue(s.spool, { from: 'a@sender.test', to: ['y@v6.test'] });
    await waitFor(() => s.spool.size === 0 || null, 'all delivered');
    expect(mxB.received.some((m) => m.to.includes('x@implicit.test'))).toBe(true);
    await s.delivery.stop();
    if (v6) {
      expect(v6.received.map((m) => m.to)).toEqual([['y@v6.test']]);
      await v6.close();
    }
    await s.cleanup();
  });

  test('null MX and NXDOMAIN bounce at once; the DSN goes to the sender', async () => {
    const s = await setup();
    const before = mxA.received.length;
    await enqueue(s.spool, { from: 'alice@sender.test', to: ['u@nullmx.test', 'v@nowhere.test'] });
    await waitFor(() => s.attempts.filter((a) => a.outcome === 'bounced').length >= 2, 'two bounces');
    const bounced = s.attempts.filter((a) => a.outcome === 'bounced');
    expect(bounced.find((a) => a.domain === 'nullmx.test')!.reply).toMatchObject({ code: 556, enhanced: '5.1.10' });
    expect(bounced.find((a) => a.domain === 'nowhere.test')!.reply).toMatchObject({ code: 550, enhanced: '5.1.2' });
    // One DSN listing both recipients, delivered to the sender's MX with a null sender.
    await waitFor(() => mxA.received.length > before, 'DSN delivered');
    const dsn = mxA.received.at(-1)!;
    expect(dsn.from).toBe('');
    expect(dsn.to).toEqual(['alice@sender.test']);
    const text = dsn.raw.toString();
    expect(text).toContain('Final-Recipient: rfc822; u@nullmx.test');
    expect(text).toContain('Status: 5.1.10');
    expect(text).toContain('Final-Recipient: rfc822; v@nowhere.test');
    expect(text).toContain('Status: 5.1.2');
    await waitFor(() => s.spool.size === 0, 'queue empty');
    await s.delivery.stop();
    await s.cleanup();
  });

  test('DNS timeout and SERVFAIL defer', async () => {
    const s = await setup();
    const env = await enqueue(s.spool, { from: 'a@sender.test', to: ['t@slow.test', 's@broken.test'] });
    await waitFor(() => s.spool.get(env.id)?.state === 'deferred', 'deferred');
    const e = s.spool.get(env.id)!;
    expect(e.recipients.map((r) => r.status)).toEqual(['deferred', 'deferred']);
    expect(e.recipients.every((r) => r.last?.enhanced === '4.4.3')).toBe(true);
    expect(e.recipients[0]!.last!.text).toMatch(/ETIMEOUT/);
    expect(e.recipients[1]!.last!.text).toMatch(/ESERVFAIL/);
    expect(e.nextAttemptAt).toBeGreaterThan(Date.now() + 50_000);
    await s.delivery.stop();
    await s.cleanup();
  });

  test('MX on a private address is not connected to without allowPrivateMx', async () => {
    const s = await setup({ allowPrivateMx: false });
    const before = mxA.connections.total;
    const env = await enqueue(s.spool, { from: '', to: ['p@private.test'] });
    await waitFor(() => s.spool.get(env.id)?.state === 'deferred', 'deferred');
    const r = s.spool.get(env.id)!.recipients[0]!;
    expect(r.status).toBe('deferred');
    expect(r.last).toMatchObject({ code: 451, enhanced: '4.4.4' });
    expect(r.last!.text).toMatch(/internal addresses \(127\.0\.0\.2\).*RELAIS_ALLOW_PRIVATE_MX/);
    expect(mxA.connections.total).toBe(before);
    await s.delivery.stop();
    await s.cleanup();
  });

  test('mixed RCPT replies in one transaction are kept per recipient', async () => {
    const s = await setup();
    mxA.rcpt = (a) =>
      a.startsWith('full@') ? '452 4.2.2 Mailbox full' : a.startsWith('gone@') ? '550 5.1.1 No such user' : a.startsWith('spam@') ? '550 5.7.1 Message refused as spam' : undefined;
    const before = mxA.received.length;
    const env = await enqueue(s.spool, { from: '', to: ['ok@ok.test', 'full@ok.test', 'gone@ok.test', 'spam@ok.test', 'ok2@ok.test'] });
    await waitFor(() => s.spool.get(env.id)?.state === 'deferred', 'deferred');
    expect(mxA.received.length).toBe(before + 1);
    expect(mxA.received.at(-1)!.to).toEqual(['ok@ok.test', 'ok2@ok.test']);
    const st = Object.fromEntries(s.spool.get(env.id)!.recipients.map((r) => [r.address, [r.status, r.last?.code, r.last?.enhanced]]));
    expect(st).toEqual({
      'ok@ok.test': ['delivered', 250, '2.0.0'],
      'full@ok.test': ['deferred', 452, '4.2.2'],
      'gone@ok.test': ['bounced', 550, '5.1.1'],
      'spam@ok.test': ['bounced', 550, '5.7.1'],
      'ok2@ok.test': ['delivered', 250, '2.0.0'],
    });
    // One transaction: one connection; attempt events grouped by reply.
    const outcomes = s.attempts.filter((a) => a.env.id === env.id).map((a) => `${a.outcome}:${a.recipients.length}:${a.phase}`);
    expect(outcomes.sort()).toEqual(['bounced:1:rcpt', 'bounced:1:rcpt', 'deferred:1:rcpt', 'delivered:2:data']);
    mxA.rcpt = () => undefined;
    await s.delivery.stop();
    await s.cleanup();
  });

  test('TLS required for a domain: an MX without STARTTLS defers (never plain text)', async () => {
    const s = await setup({ tlsRequiredDomains: ['ok.test'] });
    const before = mxA.received.length;
    const env = await enqueue(s.spool, { from: '', to: ['t@ok.test'] });
    await waitFor(() => s.spool.get(env.id)?.state === 'deferred', 'deferred');
    expect(s.attempts.find((a) => a.env.id === env.id)).toMatchObject({ outcome: 'deferred', phase: 'tls' });
    expect(mxA.received.length).toBe(before);
    await s.delivery.stop();
    await s.cleanup();
  });

  test('DKIM-Signature lines of the envelope are sent before the stored message', async () => {
    const s = await setup();
    const sig = 'DKIM-Signature: v=1; a=rsa-sha256; d=sender.test; s=sel; b=abc\r\n';
    await enqueue(s.spool, { from: '', to: ['k@ok.test'], subject: 'signed', prependHeaders: sig });
    await waitFor(() => mxA.received.find((m) => m.to[0] === 'k@ok.test'), 'delivered');
    const raw = mxA.received.find((m) => m.to[0] === 'k@ok.test')!.raw.toString();
    expect(raw.startsWith(sig + 'From: ')).toBe(true);
    expect(raw).toContain('Subject: signed');
    await s.delivery.stop();
    await s.cleanup();
  });
});

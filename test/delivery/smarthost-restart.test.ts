import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createDelivery, type AttemptEvent } from '../../relay/delivery/index.js';
import { startDnsServer, type TestDnsServer } from '../helpers/dns-server.js';
import { enqueue, freePort, log, openSpool, sleep, startMx, type TestMx, waitFor } from './helpers.js';

let dns: TestDnsServer;
let port: number;
let relay: TestMx;
let mx: TestMx;
const auths: Array<{ user: string; pass: string }> = [];

beforeAll(async () => {
  port = await freePort();
  relay = await startMx('127.0.0.8', port, {
    authOptional: false,
    allowInsecureAuth: true,
    authMethods: ['PLAIN', 'LOGIN'],
    onAuth(auth, _session, cb) {
      auths.push({ user: auth.username ?? '', pass: auth.password ?? '' });
      if (auth.username === 'relais' && auth.password === 's3cret') return cb(null, { user: 'relais' });
      cb(Object.assign(new Error('5.7.8 Authentication credentials invalid'), { responseCode: 535 }));
    },
  });
  mx = await startMx('127.0.0.10', port);
  dns = await startDnsServer({
    'r.test': { MX: [{ exchange: 'mx.r.test', priority: 10 }] },
    'mx.r.test': { A: ['127.0.0.10'] },
  });
});

afterAll(async () => {
  await Promise.all([relay.close(), mx.close(), dns.close()]);
});

describe('smarthost', () => {
  test('sends everything to the smarthost with AUTH, one transaction for all domains', async () => {
    const ts = await openSpool();
    const delivery = createDelivery({
      spool: ts.spool,
      log,
      // No DNS servers that know these domains: the smarthost needs none.
      options: { hostname: 'relais.test', dnsServers: [dns.server], smarthost: { host: '127.0.0.8', port, auth: { user: 'relais', pass: 's3cret' }, tls: 'none' } },
    });
    delivery.start();
    await enqueue(ts.spool, { from: 'a@sender.test', to: ['x@unknown-one.test', 'y@unknown-two.test'] });
    await waitFor(() => ts.spool.size === 0, 'delivered');
    expect(relay.received.at(-1)!.to).toEqual(['x@unknown-one.test', 'y@unknown-two.test']);
    expect(auths.at(-1)).toEqual({ user: 'relais', pass: 's3cret' });
    await delivery.stop();
    await ts.cleanup();
  });

  test('refused credentials defer, never bounce', async () => {
    const ts = await openSpool();
    const attempts: AttemptEvent[] = [];
    const delivery = createDelivery({
      spool: ts.spool,
      log,
      options: { hostname: 'relais.test', smarthost: { host: '127.0.0.8', port, auth: { user: 'relais', pass: 'wrong' }, tls: 'none' } },
      observer: { onAttempt: (e) => attempts.push(e) },
    });
    delivery.start();
    const env = await enqueue(ts.spool, { from: 'a@sender.test', to: ['z@r.test'] });
    await waitFor(() => ts.spool.get(env.id)?.state === 'deferred', 'deferred');
    expect(attempts[0]).toMatchObject({ outcome: 'deferred', phase: 'auth', provider: 'smarthost', reply: { code: 535, enhanced: '5.7.8' } });
    await delivery.stop();
    await ts.cleanup();
  });
});

describe('restart', () => {
  test('delivered recipients are not re-sent; deferred ones keep their schedule; due ones go at once', async () => {
    const ts = await openSpool();
    const opts = { hostname: 'relais.test', dnsServers: [dns.server], port, allowPrivateMx: true, mtaSts: false, retryFirstMs: 60_000 };
    mx.rcpt = (a) => (a.startsWith('later@') ? '450 4.2.1 Try later' : undefined);
    const d1 = createDelivery({ spool: ts.spool, log, options: opts });
    d1.start();
    const env = await enqueue(ts.spool, { from: '', to: ['now@r.test', 'later@r.test'] });
    await waitFor(() => ts.spool.get(env.id)?.state === 'deferred', 'first attempt');
    const scheduled = ts.spool.get(env.id)!.nextAttemptAt;
    await d1.stop({ timeoutMs: 1000 });

    // Queued while stopped (as if in flight at a crash): due, must go right after the restart.
    const due = await enqueue(ts.spool, { from: '', to: ['due@r.test'], nextAttemptAt: Date.now() - 1000 });
    const sentBefore = mx.received.length;

    const { Spool } = await import('../../relay/spool/spool.js');
    const spool2 = await Spool.open({ dir: ts.dir, log, fsync: false });
    const reloaded = spool2.get(env.id)!;
    expect(reloaded.recipients.map((r) => [r.address, r.status])).toEqual([
      ['now@r.test', 'delivered'],
      ['later@r.test', 'deferred'],
    ]);
    expect(reloaded.nextAttemptAt).toBe(scheduled);
    mx.rcpt = () => undefined;
    const d2 = createDelivery({ spool: spool2, log, options: opts });
    d2.start();
    await waitFor(() => !spool2.get(due.id), 'due message sent after restart');
    await sleep(200);
    // Only the due message went out; the deferred one waits for its time.
    expect(mx.received.slice(sentBefore).map((m) => m.to)).toEqual([['due@r.test']]);
    expect(spool2.get(env.id)!.nextAttemptAt).toBe(scheduled);

    // retryNow: the deferred recipient only — the delivered one is never sent again.
    expect(await d2.retryNow(env.id)).toBe(true);
    await waitFor(() => !spool2.get(env.id), 'retried');
    expect(mx.received.slice(sentBefore).map((m) => m.to)).toEqual([['due@r.test'], ['later@r.test']]);
    await d2.stop();
    await ts.cleanup();
  });

  test('stop() lets in-flight deliveries finish, then takes no new work', async () => {
    const ts = await openSpool();
    const d = createDelivery({ spool: ts.spool, log, options: { hostname: 'relais.test', dnsServers: [dns.server], port, allowPrivateMx: true, mtaSts: false } });
    let release!: () => void;
    mx.hold = new Promise<void>((r) => (release = r));
    const started = mx.dataStarted;
    d.start();
    const slowEnv = await enqueue(ts.spool, { from: '', to: ['slow@r.test'] });
    await waitFor(() => mx.dataStarted > started, 'transaction started');
    const stopping = d.stop({ timeoutMs: 5000 });
    await sleep(50);
    const later = await enqueue(ts.spool, { from: '', to: ['after-stop@r.test'] });
    await sleep(50);
    release();
    await stopping;
    mx.hold = null;
    expect(ts.spool.get(slowEnv.id)).toBeUndefined();
    expect(ts.spool.get(later.id)?.recipients[0]!.status).toBe('pending');
    await ts.cleanup();
  });
});

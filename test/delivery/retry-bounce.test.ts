import { simpleParser } from 'mailparser';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createDelivery, type AttemptEvent, type DeliveryOptions, type RecipientEvent } from '../../relay/delivery/index.js';
import type { TestDnsServer } from '../helpers/dns-server.js';
import { enqueue, log, mimeParts, openSpool, sleep, type TestMx, waitFor, startDestAndSenders, type DestAndSenders } from './helpers.js';

let world: DestAndSenders;
let dns: TestDnsServer;
let port: number;
/** Destination of the test messages. */
let dest: TestMx;
/** MX of the senders: where DSNs arrive. */
let senders: TestMx;

beforeAll(async () => {
  world = await startDestAndSenders();
  ({ dns, port, dest, senders } = world);
});

afterAll(() => world.close());

async function setup(extra: DeliveryOptions = {}) {
  const ts = await openSpool();
  const attempts: Array<AttemptEvent & { at: number }> = [];
  const finals: RecipientEvent[] = [];
  const delivery = createDelivery({
    spool: ts.spool,
    log,
    options: { hostname: 'relais.test', dnsServers: [dns.server], routeCacheMs: 0, port, allowPrivateMx: true, mtaSts: false, ...extra },
    // `at` = when the attempt started.
    observer: { onAttempt: (e) => attempts.push({ ...e, at: Date.now() - e.latencyMs }), onFinalBounce: (e) => finals.push(e) },
  });
  delivery.start();
  return { ...ts, delivery, attempts, finals };
}

function statusOf(raw: Buffer): string {
  const parts = mimeParts(raw);
  expect(parts.map((p) => p.type)).toEqual(['text/plain', 'message/delivery-status', 'text/rfc822-headers']);
  return parts[1]!.body;
}

const dsnsFor = (queueSubject: string) => senders.received.filter((m) => m.raw.toString().includes(queueSubject));

describe('retries and bounces', () => {
  test('4xx defers with doubling back-off, then delivers', async () => {
    const s = await setup({ retryFirstMs: 80, retryMaxMs: 200 });
    let refusals = 3;
    dest.rcpt = () => (refusals-- > 0 ? '450 4.2.1 Try again later' : undefined);
    await enqueue(s.spool, { from: 'a@sender.test', to: ['r@dest.test'], subject: 'backoff' });
    await waitFor(() => s.attempts.some((a) => a.outcome === 'delivered'), 'delivered', 10_000);
    const times = s.attempts.map((a) => a.at);
    expect(s.attempts.map((a) => a.outcome)).toEqual(['deferred', 'deferred', 'deferred', 'delivered']);
    const gaps = times.slice(1).map((t, i) => t - times[i]!);
    // 80, 160, then capped at 200. Each gap is measured between attempt notifications, which come
    // after the envelope was persisted (an fsync of a few ms under load), so allow some slack.
    expect(gaps[0]).toBeGreaterThanOrEqual(60);
    expect(gaps[1]).toBeGreaterThanOrEqual(130);
    expect(gaps[2]).toBeGreaterThanOrEqual(170);
    expect(gaps[2]).toBeLessThan(320 + 150); // capped: not 320
    dest.rcpt = () => undefined;
    await waitFor(() => s.spool.size === 0, 'removed');
    await s.delivery.stop();
    await s.cleanup();
  });

  test('5xx bounces at once with an RFC 3464 DSN (French then English, original headers)', async () => {
    const s = await setup();
    dest.rcpt = (a) => (a.startsWith('gone') ? '550 5.1.1 <gone@dest.test>: Recipient address rejected' : undefined);
    const env = await enqueue(s.spool, { from: 'alice@sender.test', to: ['gone@dest.test', 'here@dest.test'], subject: 'rapport-5xx' });
    await waitFor(() => dsnsFor('rapport-5xx').length === 1, 'DSN');
    expect(s.finals.map((f) => [f.recipient, f.reply.code, f.reply.enhanced])).toEqual([['gone@dest.test', 550, '5.1.1']]);
    const dsn = dsnsFor('rapport-5xx')[0]!;
    expect(dsn.from).toBe('');
    expect(dsn.to).toEqual(['alice@sender.test']);
    const parsed = await simpleParser(dsn.raw);
    expect(parsed.from?.value[0]?.address).toBe('MAILER-DAEMON@relais.test');
    expect(parsed.headers.get('content-type')).toMatchObject({ value: 'multipart/report', params: { 'report-type': 'delivery-status' } });
    const fr = parsed.text!.indexOf("n'a pas pu être distribué");
    const en = parsed.text!.indexOf('could not be delivered');
    expect(fr).toBeGreaterThanOrEqual(0);
    expect(en).toBeGreaterThan(fr);
    expect(parsed.text).toContain('gone@dest.test');
    expect(parsed.text).not.toContain('here@dest.test');
    const status = statusOf(dsnsFor('rapport-5xx')[0]!.raw);
    expect(status).toMatch(/^Reporting-MTA: dns; relais\.test\r\n/);
    expect(status).toContain(`X-Relais-Queue-ID: ${env.id}`);
    expect(status).toMatch(/Arrival-Date: \w{3}, \d{2} \w{3} \d{4}/);
    expect(status).toContain('Final-Recipient: rfc822; gone@dest.test');
    expect(status).toContain('Action: failed');
    expect(status).toContain('Status: 5.1.1');
    expect(status).toContain('Remote-MTA: dns; mx.dest.test');
    expect(status).toContain('Diagnostic-Code: smtp; 550 5.1.1 <gone@dest.test>: Recipient address rejected');
    const headers = parsed.attachments.find((a) => a.contentType === 'text/rfc822-headers')!.content.toString();
    expect(headers).toContain('Subject: rapport-5xx');
    expect(headers).not.toContain('Bonjour.');
    dest.rcpt = () => undefined;
    await waitFor(() => s.spool.size === 0, 'queue empty');
    await s.delivery.stop();
    await s.cleanup();
  });

  test('no DSN for a null-sender message nor for a DSN', async () => {
    const s = await setup();
    dest.rcpt = () => '550 5.1.1 No such user';
    await enqueue(s.spool, { from: '', to: ['x@dest.test'], subject: 'nul-sender' });
    await enqueue(s.spool, { from: 'someone@sender.test', to: ['y@dest.test'], subject: 'dsn-kind', kind: 'dsn' });
    await waitFor(() => s.finals.length === 2, 'both failed');
    await waitFor(() => s.spool.size === 0, 'queue empty');
    await sleep(100);
    expect(dsnsFor('nul-sender')).toEqual([]);
    expect(dsnsFor('dsn-kind')).toEqual([]);
    dest.rcpt = () => undefined;
    await s.delivery.stop();
    await s.cleanup();
  });

  test('deferred past the lifetime: bounced with the last temporary reply', async () => {
    const s = await setup({ retryFirstMs: 50, retryMaxMs: 100, lifetimeMs: 400, delayWarningMs: 0 });
    dest.rcpt = () => '451 4.7.1 Greylisted, come back later';
    const env = await enqueue(s.spool, { from: 'bob@sender.test', to: ['grey@dest.test'], subject: 'expiry-test' });
    await waitFor(() => dsnsFor('expiry-test').length === 1, 'expiry DSN', 10_000);
    const mine = s.attempts.filter((a) => a.env.id === env.id);
    expect(mine.filter((a) => a.outcome === 'deferred').length).toBeGreaterThanOrEqual(2);
    expect(mine.at(-1)!.outcome).toBe('bounced');
    const parsed = await simpleParser(dsnsFor('expiry-test')[0]!.raw);
    const status = statusOf(dsnsFor('expiry-test')[0]!.raw);
    expect(status).toContain('Action: failed');
    expect(status).toContain('Status: 4.7.1');
    expect(status).toContain('Diagnostic-Code: smtp; 451 4.7.1 Greylisted, come back later');
    dest.rcpt = () => undefined;
    await waitFor(() => s.spool.size === 0, 'queue empty');
    await s.delivery.stop();
    await s.cleanup();
  });

  test('delay warning is sent once per recipient', async () => {
    const s = await setup({ retryFirstMs: 40, retryMaxMs: 40, delayWarningMs: 100 });
    let open = false;
    dest.rcpt = () => (open ? undefined : '450 4.2.0 Mailbox busy');
    await enqueue(s.spool, { from: 'carol@sender.test', to: ['slow@dest.test'], subject: 'delay-test' });
    await waitFor(() => dsnsFor('delay-test').length === 1, 'delay DSN');
    // Several more deferrals after the warning, no second warning.
    const n = s.attempts.length;
    await waitFor(() => s.attempts.length >= n + 3, 'more attempts');
    open = true;
    await waitFor(() => s.attempts.some((a) => a.outcome === 'delivered'), 'delivered');
    await waitFor(() => s.spool.size === 0, 'queue empty');
    expect(dsnsFor('delay-test').length).toBe(1);
    const parsed = await simpleParser(dsnsFor('delay-test')[0]!.raw);
    const status = statusOf(dsnsFor('delay-test')[0]!.raw);
    expect(status).toContain('Action: delayed');
    expect(status).toContain('Status: 4.2.0');
    expect(status).toContain('Will-Retry-Until:');
    expect(parsed.subject).toMatch(/Distribution retardée/);
    dest.rcpt = () => undefined;
    await s.delivery.stop();
    await s.cleanup();
  });
});

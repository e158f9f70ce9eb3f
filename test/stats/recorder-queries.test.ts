import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Store } from '../../src/store/types.js';
import { loadProviders } from '../../config/providers.js';
import { createStatsQueries, type StatsQueries } from '../../src/stats/queries.js';
import { createStatsRecorder, type AttemptStat, type StatsRecorder } from '../../src/stats/recorder.js';
import { STORE_KINDS, clearStats, openTestStore, removeTempDirs } from './helpers.js';

const providers = loadProviders();
const H = 3_600_000;
// A fixed past hour keeps buckets deterministic; samples are searched from "to" backwards.
const T0 = Date.UTC(2026, 0, 15, 10, 0, 0);

afterAll(removeTempDirs);

function attempt(over: Partial<AttemptStat>): AttemptStat {
  return {
    at: T0 + 5 * 60_000,
    tenant: 'ruche',
    senderDomain: 'la-ruche.org',
    sender: 'Alice@La-Ruche.org',
    provider: 'google',
    recipientDomain: 'gmail.com',
    mx: 'gmail-smtp-in.l.google.com',
    outcome: 'delivered',
    reason: 'none',
    reply: { code: 250, enhanced: '2.0.0', text: 'OK' },
    count: 1,
    ...over,
  };
}

const gmailUnknown = (to: string): AttemptStat['reply'] => ({
  code: 550,
  enhanced: '5.1.1',
  text: `The email account that you tried to reach does not exist. <${to}> - gsmtp`,
});

describe.each(STORE_KINDS)('stats recorder + queries ($name)', (kind) => {
  let store: Store;
  let store2: Store;
  let rec: StatsRecorder;
  let rec2: StatsRecorder;
  let q: StatsQueries;
  const range = { from: T0, to: T0 + H };

  beforeAll(async () => {
    const opts = kind.options();
    store = await openTestStore(opts);
    // Redis: a second connection stands for a second node. LMDB is single-node: share the store.
    store2 = kind.name === 'redis' ? await openTestStore(opts) : store;
    rec = createStatsRecorder({ store, retentionDays: 30, flushIntervalMs: 0 });
    rec2 = createStatsRecorder({ store: store2, retentionDays: 30, flushIntervalMs: 0 });
    q = createStatsQueries({ store, providers });

    // Node 1: ruche → gmail (8 delivered in one transaction of 8, 2 unknown users), orange deferred.
    rec.recordAttempt(attempt({ count: 8, latencyMs: 400 }));
    rec.recordAttempt(attempt({ outcome: 'bounced', bounceKind: 'hard', reason: 'invalid_recipient', reply: gmailUnknown('bob.secret@gmail.com') }));
    rec.recordAttempt(attempt({ outcome: 'bounced', bounceKind: 'hard', reason: 'invalid_recipient', reply: gmailUnknown('carol@gmail.com'), latencyMs: 200 }));
    rec.recordAttempt(attempt({ provider: 'orange', recipientDomain: 'wanadoo.fr', mx: 'smtp-in.orange.fr', outcome: 'deferred', reason: 'rate_limited', reply: { code: 421, text: 'mwinf5c77 ME Service refuse. Veuillez essayer plus tard. OFR_999 [999]' } }));
    rec.recordVerdict({ at: T0 + 60_000, tenant: 'ruche', sender: 'alice@la-ruche.org', action: 'reject', reason: 'quota_mailbox_hour' });
    // Node 2: another tenant to microsoft, and ruche again to gmail.
    rec2.recordAttempt(attempt({ tenant: 'amap', senderDomain: 'amap.fr', sender: 'news@amap.fr', provider: 'microsoft', recipientDomain: 'hotmail.fr', mx: 'hotmail-com.olc.protection.outlook.com', count: 5 }));
    rec2.recordAttempt(attempt({ tenant: 'amap', senderDomain: 'amap.fr', sender: 'news@amap.fr', provider: 'microsoft', recipientDomain: 'outlook.com', outcome: 'bounced', bounceKind: 'hard', reason: 'blocklisted_ip', reply: { code: 550, enhanced: '5.7.1', text: 'part of their network is on our block list (S3150)' } }));
    rec2.recordAttempt(attempt({ count: 2 }));
    // Next hour: one more delivered for the time series.
    rec2.recordAttempt(attempt({ at: T0 + H + 60_000, count: 3 }));
    await Promise.all([rec.flush(), rec2.flush()]);
  });

  afterAll(async () => {
    await rec.close();
    await rec2.close();
    await clearStats(store);
    if (store2 !== store) await store2.close();
    await store.close();
  });

  it('sums per provider across nodes with rates, reasons and redacted sample replies', async () => {
    const rows = await q.byProvider(range);
    expect(rows.map((r) => r.id)).toEqual(['google', 'microsoft', 'orange']);
    const g = rows[0]!;
    expect(g).toMatchObject({ name: 'Google (Gmail)', usGiant: true, sent: 12, delivered: 10, bounced: 2, deferred: 0, avgLatencyMs: 300 });
    expect(g.bouncedRate).toBeCloseTo(2 / 12);
    expect(g.deliverability).toBeCloseTo(10 / 12);
    expect(g.topReasons).toHaveLength(1);
    const r = g.topReasons[0]!;
    expect(r).toMatchObject({ outcome: 'bounced', reason: 'invalid_recipient', count: 2 });
    expect(r.samples).toHaveLength(2);
    expect(r.samples[0]).toMatchObject({ code: 550, enhanced: '5.1.1', recipientDomain: 'gmail.com', mx: 'gmail-smtp-in.l.google.com' });
    expect(r.samples.map((s) => s.text).join(' ')).toContain('<…@gmail.com>');
    expect(r.samples.map((s) => s.text).join(' ')).not.toContain('bob.secret');
    const o = rows[2]!;
    expect(o).toMatchObject({ sent: 1, deferred: 1, deferredRate: 1 });
    expect(o.topReasons[0]).toMatchObject({ outcome: 'deferred', reason: 'rate_limited' });
    expect(o.topReasons[0]!.samples[0]!.text).toContain('OFR_999');
  });

  it('shows a tenant only its own traffic', async () => {
    const rows = await q.byProvider({ ...range, tenant: 'amap' });
    expect(rows.map((r) => [r.id, r.sent, r.bounced])).toEqual([['microsoft', 6, 1]]);
    expect(rows[0]!.topReasons[0]!.samples[0]!.text).toContain('S3150');
    expect(await q.byProvider({ ...range, tenant: 'nobody' })).toEqual([]);
    const ruche = await q.byTenant({ ...range, tenant: 'ruche' });
    expect(ruche.map((r) => [r.id, r.sent])).toEqual([['ruche', 13]]);
  });

  it('groups per tenant, sender, sender domain and recipient domain', async () => {
    expect((await q.byTenant(range)).map((r) => [r.id, r.sent])).toEqual([['ruche', 13], ['amap', 6]]);
    const senders = await q.bySender(range);
    expect(senders.map((r) => [r.id, r.sent])).toEqual([['alice@la-ruche.org', 13], ['news@amap.fr', 6]]);
    expect(senders[0]!.verdicts).toEqual({ reject: 1 });
    expect((await q.bySenderDomain({ ...range, tenant: 'ruche' })).map((r) => [r.id, r.sent, r.verdicts.reject])).toEqual([['la-ruche.org', 13, 1]]);
    expect((await q.byDomain(range)).map((r) => [r.id, r.sent])).toEqual([['gmail.com', 12], ['hotmail.fr', 5], ['outlook.com', 1], ['wanadoo.fr', 1]]);
    expect((await q.byDomain({ ...range, limit: 2 })).length).toBe(2);
  });

  it('gives hourly and daily time series', async () => {
    const hourly = await q.series({ from: T0, to: T0 + 3 * H, granularity: 'hour', dim: 'provider', id: 'google' });
    expect(hourly.map((p) => [p.at, p.sent, p.delivered])).toEqual([[T0, 12, 10], [T0 + H, 3, 3], [T0 + 2 * H, 0, 0]]);
    const daily = await q.series({ from: T0, to: T0 + 24 * H, granularity: 'day' });
    expect(daily).toHaveLength(2);
    expect(daily[0]).toMatchObject({ at: Date.UTC(2026, 0, 15), sent: 22, delivered: 18, bounced: 3, deferred: 1 });
  });

  it('computes the Démailnagement view per month', async () => {
    const months = await q.demailnagement({ from: Date.UTC(2026, 0, 1), to: Date.UTC(2026, 1, 1) });
    expect(months).toHaveLength(1);
    const m = months[0]!;
    expect(m.month).toBe('2026-01');
    // Final outcomes: google 13 delivered + 2 bounced, microsoft 5 + 1; orange only deferred.
    expect(m.finalTotal).toBe(21);
    expect(m.usGiants).toMatchObject({ delivered: 18, bounced: 3, share: 1 });
    expect(m.others).toMatchObject({ sent: 1, deferred: 1, share: 0, deliverability: 0 });
    expect(m.usGiants.deliverability).toBeCloseTo(18 / 21);
    expect(m.byProvider.map((p) => p.id)).toEqual(['google', 'microsoft', 'orange']);
  });

  it('keeps a bounded number of sample replies per provider + reason + hour', async () => {
    const at = T0 + 5 * H;
    for (let i = 0; i < 10; i++) {
      (i % 2 ? rec : rec2).recordAttempt(attempt({ at, tenant: undefined, provider: 'free', recipientDomain: 'free.fr', outcome: 'bounced', bounceKind: 'hard', reason: 'invalid_recipient', reply: { code: 550, enhanced: '5.1.1', text: `<u${i}@free.fr>: Recipient address rejected: Mailbox disabled` } }));
      await Promise.all([rec.flush(), rec2.flush()]);
    }
    const rows = await q.byProvider({ from: at, to: at + H });
    expect(rows[0]).toMatchObject({ id: 'free', bounced: 10 });
    expect(rows[0]!.topReasons[0]!.samples).toHaveLength(3);
    expect(await store.getValue(`stats:x:2026011515:*:free:invalid_recipient:4`)).toBeNull();
  });

  it('keeps counters in memory when a flush fails and writes them on the next one', async () => {
    let failNext = true;
    const flaky: Store = Object.create(store, {
      hincrMany: {
        value: (entries: Parameters<Store['hincrMany']>[0]) => {
          if (failNext) return Promise.reject(new Error('simulated outage'));
          return store.hincrMany(entries);
        },
      },
    });
    const warnings: string[] = [];
    const r = createStatsRecorder({ store: flaky, flushIntervalMs: 0, log: { warn: (_o, m) => warnings.push(m) } });
    const at = T0 + 7 * H;
    r.recordAttempt(attempt({ at, provider: 'laposte', recipientDomain: 'laposte.net', count: 4 }));
    await r.flush();
    expect(warnings).toEqual(['stats: flush failed, will retry']);
    expect(await q.byProvider({ from: at, to: at + H })).toEqual([]);
    failNext = false;
    await r.close();
    expect((await q.byProvider({ from: at, to: at + H })).map((x) => [x.id, x.delivered])).toEqual([['laposte', 4]]);
  });

  it('flushes on its own timer', async () => {
    const r = createStatsRecorder({ store, flushIntervalMs: 20 });
    const at = T0 + 9 * H;
    r.recordAttempt(attempt({ at, provider: 'sfr', recipientDomain: 'sfr.fr' }));
    let rows = await q.byProvider({ from: at, to: at + H });
    for (let i = 0; i < 100 && rows.length === 0; i++) {
      await new Promise((res) => setTimeout(res, 20));
      rows = await q.byProvider({ from: at, to: at + H });
    }
    expect(rows.map((x) => x.id)).toEqual(['sfr']);
    await r.close();
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Store } from '../../src/store/types.js';
import { createStatsAlerts } from '../../src/stats/alerts.js';
import { parseAlertsConfig } from '../../src/stats/alerts-config.js';
import { loadProviders } from '../../config/providers.js';
import { createStatsQueries } from '../../src/stats/queries.js';
import { createStatsRecorder, type AttemptStat } from '../../src/stats/recorder.js';
import { STORE_KINDS, clearStats, openTestStore, removeTempDirs } from './helpers.js';

const H = 3_600_000;
const T0 = Date.UTC(2026, 2, 3, 14, 0, 0);
const NOW = T0 + 30 * 60_000;

afterAll(removeTempDirs);

function a(over: Partial<AttemptStat>): AttemptStat {
  return {
    at: T0 + 60_000, tenant: 'ruche', senderDomain: 'la-ruche.org', sender: 'alice@la-ruche.org', provider: 'google',
    recipientDomain: 'gmail.com', outcome: 'delivered', reason: 'none', count: 1, ...over,
  };
}

describe('alerts config', () => {
  it('has defaults and validates keys', () => {
    const d = parseAlertsConfig(undefined);
    expect(d.intervalMs).toBe(60_000);
    expect(d.rules.find((r) => r.type === 'bounce_rate')).toEqual({ type: 'bounce_rate', threshold: 0.05, minMessages: 20, minCount: 0, windowMs: H, per: 'sender' });
    expect(d.rules.map((r) => r.type)).toEqual(['bounce_rate', 'deferral_rate', 'spam_block', 'auth_failure', 'policy_rejects']);
    const c = parseAlertsConfig({ interval: '30s', bounce_rate: { threshold: 0.1, window: '2h', per: 'tenant' }, deferral_rate: false });
    expect(c.intervalMs).toBe(30_000);
    expect(c.rules.find((r) => r.type === 'bounce_rate')).toMatchObject({ threshold: 0.1, minMessages: 20, windowMs: 2 * H, per: 'tenant' });
    expect(c.rules.some((r) => r.type === 'deferral_rate')).toBe(false);
    expect(() => parseAlertsConfig({ bounce_rate: { threshold: 5 } })).toThrow(/alerts\.bounce_rate\.threshold: must be a number between 0 and 1/);
    expect(() => parseAlertsConfig({ spam_block: { window: 'soon' } })).toThrow(/alerts\.spam_block\.window: must be a duration/);
    expect(() => parseAlertsConfig({ spam_block: { per: 'planet' } })).toThrow(/alerts\.spam_block\.per: must be one of/);
    expect(() => parseAlertsConfig({ bounce: {} })).toThrow(/alerts\.bounce: unknown key/);
  });
});

describe.each(STORE_KINDS)('alerts on recorded stats ($name)', (kind) => {
  let store: Store;
  const logs: { level: string; msg: string }[] = [];
  const log = { warn: (_o: object, msg: string) => logs.push({ level: 'warn', msg }), info: (_o: object, msg: string) => logs.push({ level: 'info', msg }) };
  let alerts: ReturnType<typeof createStatsAlerts>;

  beforeAll(async () => {
    store = await openTestStore(kind.options());
    const rec = createStatsRecorder({ store, flushIntervalMs: 0 });
    // alice: 25 attempts, 2 bounced (8 %) in the previous hour and this one → warning.
    rec.recordAttempt(a({ at: T0 - 20 * 60_000, count: 13 }));
    rec.recordAttempt(a({ count: 10 }));
    rec.recordAttempt(a({ count: 2, outcome: 'bounced', bounceKind: 'hard', reason: 'invalid_recipient' }));
    // bob: 50 % bounces but only 10 attempts → below min_messages.
    rec.recordAttempt(a({ sender: 'bob@la-ruche.org', count: 5 }));
    rec.recordAttempt(a({ sender: 'bob@la-ruche.org', count: 5, outcome: 'bounced', reason: 'invalid_recipient' }));
    // Old traffic outside the window does not count.
    rec.recordAttempt(a({ at: T0 - 5 * H, sender: 'old@la-ruche.org', count: 30, outcome: 'bounced', reason: 'invalid_recipient' }));
    // amap: block-listed at Microsoft, DMARC failures, and its sender hits the policy.
    rec.recordAttempt(a({ tenant: 'amap', sender: 'news@amap.fr', senderDomain: 'amap.fr', provider: 'microsoft', recipientDomain: 'outlook.com', outcome: 'bounced', reason: 'blocklisted_ip' }));
    rec.recordAttempt(a({ tenant: 'amap', sender: 'news@amap.fr', senderDomain: 'amap.fr', provider: 'google', outcome: 'bounced', reason: 'authentication', count: 3 }));
    rec.recordVerdict({ at: T0 + 1000, tenant: 'amap', sender: 'news@amap.fr', action: 'reject', reason: 'rate' });
    rec.recordVerdict({ at: T0 + 2000, tenant: 'amap', sender: 'news@amap.fr', action: 'reject', reason: 'rate' });
    // ruche: Gmail says likely spam (deferred).
    rec.recordAttempt(a({ sender: 'carol@la-ruche.org', outcome: 'deferred', reason: 'spam_content' }));
    await rec.close();
    const config = parseAlertsConfig({ policy_rejects: { min_count: 2 } });
    alerts = createStatsAlerts({ store, queries: createStatsQueries({ store, providers: loadProviders() }), config, log });
  });

  afterAll(async () => {
    await clearStats(store);
    await store.close();
  });

  it('raises the expected alerts with bilingual messages, logging each once', async () => {
    const list = await alerts.evaluate({ now: NOW });
    expect(list.map((x) => [x.id, x.severity])).toEqual([
      ['spam_block:provider:microsoft', 'critical'],
      ['auth_failure:sender_domain:amap.fr', 'warning'],
      ['bounce_rate:sender:alice@la-ruche.org', 'warning'],
      ['policy_rejects:sender:news@amap.fr', 'warning'],
      ['spam_block:provider:google', 'warning'],
    ]);
    const bounce = list.find((x) => x.type === 'bounce_rate')!;
    expect(bounce.value).toBe(2 / 25);
    expect(bounce.message.fr).toBe("Taux de rebond de 8 % pour l'expéditeur alice@la-ruche.org (25 envois sur 1h, seuil 5 %)");
    expect(bounce.message.en).toBe('Bounce rate 8% for sender alice@la-ruche.org (25 attempts over 1h, threshold 5%)');
    expect(bounce.since).toBe(new Date(NOW).toISOString());
    expect(logs.filter((l) => l.level === 'warn')).toHaveLength(5);

    const again = await alerts.evaluate({ now: NOW + 60_000 });
    expect(again.map((x) => x.since)).toEqual(list.map((x) => x.since));
    expect(logs.filter((l) => l.level === 'warn')).toHaveLength(5);
  });

  it('scopes alerts to one tenant', async () => {
    const list = await alerts.evaluate({ tenant: 'ruche', now: NOW });
    expect(list.map((x) => x.id)).toEqual(['bounce_rate:sender:alice@la-ruche.org', 'spam_block:provider:t=ruche/google']);
    expect(list.every((x) => x.tenant === 'ruche')).toBe(true);
    // Same sender alert as the global evaluation: same since.
    expect(list[0]!.since).toBe(new Date(NOW).toISOString());
  });

  it('clears alerts once the window has passed, and raises them anew later', async () => {
    const later = await alerts.evaluate({ now: NOW + 3 * H });
    expect(later).toEqual([]);
    expect(logs.filter((l) => l.msg === 'stats alert cleared')).toHaveLength(5);
    const warnsBefore = logs.filter((l) => l.level === 'warn').length;
    const back = await alerts.evaluate({ now: NOW + 1000 });
    expect(back).toHaveLength(5);
    expect(back[0]!.since).toBe(new Date(NOW + 1000).toISOString());
    expect(logs.filter((l) => l.level === 'warn').length).toBe(warnsBefore + 5);
  });

  it('evaluates periodically on the real clock', async () => {
    const rec = createStatsRecorder({ store, flushIntervalMs: 0 });
    rec.recordAttempt(a({ at: Date.now(), provider: 'apple', recipientDomain: 'icloud.com', outcome: 'bounced', reason: 'blocklisted_ip' }));
    await rec.close();
    const periodic = createStatsAlerts({ store, queries: createStatsQueries({ store, providers: loadProviders() }), config: parseAlertsConfig({ interval: '50ms' }) });
    periodic.start();
    for (let i = 0; i < 200 && periodic.active().length === 0; i++) await new Promise((r) => setTimeout(r, 10));
    periodic.stop();
    // The fixed 2026-03-03 traffic is outside the window of the real clock: only the new one.
    expect(periodic.active().map((x) => [x.id, x.severity])).toEqual([['spam_block:provider:apple', 'critical']]);
  });
});

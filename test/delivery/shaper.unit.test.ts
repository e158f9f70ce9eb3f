import { describe, expect, test } from 'vitest';
import { loadProviders } from '../../config/providers.js';
import type { ReplyClass } from '../../relay/delivery/reply-class.js';
import { keyOf, MAX_KEYS, Shaper, warmupVolume, type ShaperConfig, type ShaperEvent } from '../../relay/delivery/shaper.js';
import type { ProviderInfo } from '../../relay/delivery/types.js';

const MIN = 60_000;
const google: ProviderInfo = { id: 'google', name: 'google', usGiant: false, shaping: { maxConnections: 4, messagesPerConnection: 50, messagesPerMinute: 120, tlsRequired: false } };
const orange: ProviderInfo = { id: 'orange', name: 'orange', usGiant: false, shaping: { maxConnections: 2, messagesPerConnection: 20, messagesPerMinute: null, tlsRequired: false } };
const rate: ReplyClass = { category: 'rate_limited', permanent: false, scope: 'provider', provider: 'google', rule: 'gmail-4.7.28' };
const listed: ReplyClass = { category: 'blocklisted_ip', permanent: false, scope: 'provider', provider: 'google', fix: { fr: 'Demandez le retrait', en: 'Request delisting' } };
const reply = { code: 421, enhanced: '4.7.28', text: 'unusual rate' };

function config(extra: Partial<ShaperConfig> = {}): ShaperConfig {
  return {
    defaults: {
      probeIntervalMs: MIN,
      relaxStepMs: 2 * MIN,
      rules: {
        rate_limited: { action: 'slow', factor: 0.25, durationMs: 5 * MIN, maxDurationMs: 60 * MIN },
        blocklisted_ip: { action: 'suspend', factor: 0.5, durationMs: 30 * MIN, maxDurationMs: 240 * MIN },
      },
    },
    ...extra,
  };
}

/** Admits (and releases at once) as many attempts as the shaper lets through at each second of [from, to). */
function admittedBetween(s: Shaper, p: ProviderInfo, from: number, to: number, prio: 'personal' | 'bulk' = 'personal'): number {
  let n = 0;
  for (let t = from; t < to; t += 1000) {
    for (;;) {
      const a = s.admit(undefined, p, prio, 1, t);
      if (!a.ok) break;
      n++;
      s.release(a.key);
      if (n > 100_000) throw new Error('runaway');
    }
  }
  return n;
}

describe('shaper', () => {
  test('a provider-scope rate_limited reply slows that provider to factor × rate, others untouched', () => {
    const s = new Shaper(config());
    const t0 = 1_000_000;
    // 120/min, plus the slot of the next second that personal mail may wait for.
    expect(admittedBetween(s, google, t0, t0 + MIN)).toBe(121);
    const v = s.onReply(undefined, google, rate, reply, t0 + MIN, t0 + MIN, 'mx.google.test');
    expect(v).toMatchObject({ mode: 'slowed', level: 1, provider: 'google', pool: 'default', limits: { messagesPerMinute: 30, maxConnections: 1 } });
    expect(v!.cause).toMatchObject({ reply, mx: 'mx.google.test', class: { category: 'rate_limited' } });
    expect(admittedBetween(s, google, t0 + MIN, t0 + 2 * MIN)).toBeLessThanOrEqual(31);
    expect(s.limits(undefined, orange, t0 + MIN)).toEqual({ maxConnections: 2, messagesPerConnection: 20, messagesPerMinute: null });
    expect(s.admit(undefined, orange, 'bulk', 1, t0 + MIN)).toMatchObject({ ok: true, waitMs: 0 });
  });

  test('replies about the recipient or the message, or without a rule, change nothing', () => {
    const s = new Shaper(config());
    expect(s.onReply(undefined, google, { ...rate, scope: 'recipient' }, reply, 0, 0)).toBeNull();
    expect(s.onReply(undefined, google, { ...rate, category: 'authentication' }, reply, 0, 0)).toBeNull();
    expect(s.list(0)).toEqual([]);
  });

  test('repeats escalate (attempts sent before the last change do not), successes relax step by step', () => {
    const s = new Shaper(config());
    const t = 10 * MIN;
    s.onReply(undefined, google, rate, reply, t, t);
    // In flight when it was restricted: counted, not escalated.
    expect(s.onReply(undefined, google, rate, reply, t - 1, t + 10)).toBeNull();
    expect(s.list(t + 10)[0]).toMatchObject({ level: 1, triggers: 2 });
    const v2 = s.onReply(undefined, google, rate, reply, t + 20, t + 30)!;
    expect(v2).toMatchObject({ level: 2, limits: { messagesPerMinute: 7 } });
    expect(v2.until).toBe(t + 30 + 10 * MIN); // duration doubled
    // After the step, each relax step with a success lowers one level.
    const end = v2.until;
    s.onDelivered(undefined, google, end - 1);
    expect(s.list(end + 1)[0]).toMatchObject({ level: 1 });
    const a = s.admit(undefined, google, 'personal', 1, end + 2);
    expect(a.ok).toBe(true);
    if (a.ok) s.release(a.key);
    // A step with attempts but no success does not relax.
    expect(s.list(end + 2 * MIN + 1)[0]).toMatchObject({ level: 1 });
    s.onDelivered(undefined, google, end + 3 * MIN);
    expect(s.list(end + 5 * MIN)).toEqual([]);
  });

  test('a suspension holds everything but one probe per interval; a probe that succeeds gives relief', () => {
    const s = new Shaper(config());
    const events: ShaperEvent[] = [];
    s.onEvent((e) => events.push(e));
    const t = 0;
    s.onReply('news', google, listed, { code: 421, text: 'listed by Spamhaus' }, t, t);
    expect(s.list(t)[0]).toMatchObject({ mode: 'suspended', pool: 'news', until: 30 * MIN, cause: { class: { fix: { en: 'Request delisting' } } } });
    const held = s.admit('news', google, 'personal', 1, t + 1000);
    expect(held).toMatchObject({ ok: false, reason: 'suspended', retryAt: MIN });
    // Another pool is not affected.
    expect(s.admit(undefined, google, 'bulk', 1, t + 1000).ok).toBe(true);
    expect(s.capacity(keyOf('news', 'google'), 'personal', MIN)).toBe(1);
    const probe = s.admit('news', google, 'personal', 1, MIN);
    expect(probe).toMatchObject({ ok: true, probe: true });
    expect(s.admit('news', google, 'personal', 1, MIN + 1).ok).toBe(false);
    s.release(probe.key);
    s.onDelivered('news', google, MIN + 500);
    const after = s.list(MIN + 600)[0]!;
    expect(after).toMatchObject({ mode: 'slowed', level: 1, limits: { messagesPerMinute: 60, maxConnections: 2 } });
    expect(events.map((e) => e.type)).toEqual(['restricted', 'probe-succeeded']);
    // A failed probe escalates: the suspension doubles.
    const s2 = new Shaper(config());
    s2.onReply(undefined, google, listed, reply, 0, 0);
    const p2 = s2.admit(undefined, google, 'personal', 1, MIN);
    expect(p2.ok).toBe(true);
    expect(s2.onReply(undefined, google, listed, reply, MIN, MIN + 100)).toMatchObject({ level: 2, mode: 'suspended', until: MIN + 100 + 60 * MIN });
  });

  test("an admin's retry goes to a suspended provider as a probe at once", () => {
    const s = new Shaper(config());
    s.onReply(undefined, google, listed, reply, 0, 0);
    expect(s.admit(undefined, google, 'personal', 1, 1000).ok).toBe(false);
    expect(s.admit(undefined, google, 'bulk', 1, 1000, true)).toMatchObject({ ok: true, probe: true });
  });

  test('a later, milder reply escalates but keeps the gravest category and its cause', () => {
    const s = new Shaper(config());
    s.onReply(undefined, google, listed, { code: 550, text: 'listed' }, 0, 0);
    const v = s.onReply(undefined, google, rate, reply, MIN, MIN)!;
    expect(v).toMatchObject({ level: 2, mode: 'suspended', category: 'blocklisted_ip', cause: { reply: { text: 'listed' } }, until: MIN + 60 * MIN });
  });

  test('idle keys are forgotten past MAX_KEYS (unclaimed MX hosts are chosen by recipients)', () => {
    const s = new Shaper(config());
    const mx = (i: number): ProviderInfo => ({ ...orange, id: `other:mx${i}.example` });
    const restricted = mx(-1);
    s.onReply(undefined, restricted, { ...rate, provider: 'other' }, reply, 0, 0);
    for (let i = 0; i < MAX_KEYS + 500; i++) {
      const a = s.admit(undefined, mx(i), 'personal', 1, 1000 + i);
      if (a.ok) s.release(a.key);
    }
    expect(s.size()).toBeLessThanOrEqual(MAX_KEYS);
    // A restriction in force is not forgotten.
    expect(s.list(MAX_KEYS).map((r) => r.provider)).toEqual(['other:mx-1.example']);
  });

  test('clear lifts a provider in one pool or all', () => {
    const s = new Shaper(config());
    const opened: string[] = [];
    s.onOpen((k) => opened.push(k));
    s.onReply(undefined, google, listed, reply, 0, 0);
    s.onReply('news', google, listed, reply, 0, 0);
    expect(s.clear('google', 'news')).toBe(1);
    expect(opened).toEqual(['news|google']);
    expect(s.list(1).map((r) => r.pool)).toEqual(['default']);
    expect(s.clear('google')).toBe(1);
    expect(s.list(1)).toEqual([]);
  });

  test('per-provider rules replace the default of their category', () => {
    const s = new Shaper(config({ providers: { google: { rules: { rate_limited: { action: 'suspend', factor: 0.5, durationMs: MIN, maxDurationMs: 2 * MIN } } } } }));
    expect(s.onReply(undefined, google, rate, reply, 0, 0)).toMatchObject({ mode: 'suspended', until: MIN });
    expect(s.onReply(undefined, orange, { ...rate, provider: 'orange' }, reply, 0, 0)).toMatchObject({ mode: 'slowed' });
  });

  test('when the rate is tight, newsletter mail waits and personal mail leaves', () => {
    const s = new Shaper(config());
    const t = 0;
    const p1 = s.admit(undefined, google, 'personal', 1, t);
    expect(p1).toMatchObject({ ok: true, waitMs: 0 });
    // Next slot is 500 ms away: personal mail waits for it, newsletter mail is parked.
    expect(s.admit(undefined, google, 'bulk', 1, t)).toMatchObject({ ok: false, reason: 'rate', retryAt: 500 });
    expect(s.capacity(keyOf(undefined, 'google'), 'bulk', t)).toBe(0);
    expect(s.capacity(keyOf(undefined, 'google'), 'personal', t)).toBe(2);
    expect(s.admit(undefined, google, 'personal', 1, t)).toMatchObject({ ok: true, waitMs: 500 });
    // The last concurrent slot is kept for personal mail.
    const one: ProviderInfo = { id: 'x', name: 'x', usGiant: false, shaping: { maxConnections: 1, messagesPerConnection: 1, messagesPerMinute: null, tlsRequired: false } };
    expect(s.admit(undefined, one, 'bulk', 1, t).ok).toBe(true);
    expect(s.admit(undefined, one, 'bulk', 1, t)).toMatchObject({ ok: false, reason: 'busy' });
    expect(s.admit(undefined, one, 'personal', 1, t).ok).toBe(true);
  });

  test('warm-up: the day volume grows from the start date; newsletters leave the last 10 % to personal mail', () => {
    const day0 = Date.UTC(2026, 11, 1);
    const sched = { startDay: day0, initial: 100, growth: 2, max: 1000 };
    expect(warmupVolume(sched, day0 - 5)).toBe(100);
    expect(warmupVolume(sched, day0 + 86_400_000 * 2 + 5)).toBe(400);
    expect(warmupVolume(sched, day0 + 86_400_000 * 4)).toBeNull(); // 1600 ≥ max: over
    const s = new Shaper(config({ warmup: { news: sched } }));
    const t = day0 + 3600_000;
    const free: ProviderInfo = { ...orange, shaping: { ...orange.shaping, maxConnections: 1000 } };
    let bulk = 0;
    for (;;) {
      const a = s.admit('news', free, 'bulk', 1, t);
      if (!a.ok) {
        expect(a).toMatchObject({ reason: 'warmup', retryAt: day0 + 86_400_000 });
        break;
      }
      bulk++;
      s.release(a.key);
    }
    expect(bulk).toBe(90);
    let personal = 0;
    while (s.admit('news', free, 'personal', 1, t).ok) personal++;
    expect(personal).toBe(10);
    expect(s.warmups(t)).toEqual([{ pool: 'news', provider: 'orange', day: Math.floor(t / 86_400_000), volume: 100, sent: 100 }]);
    // The default pool has no warm-up; the next day has a new volume.
    expect(s.admit(undefined, free, 'bulk', 1, t).ok).toBe(true);
    expect(s.admit('news', free, 'bulk', 1, day0 + 86_400_000 + 1).ok).toBe(true);
  });

  test('bundled rules: a storm of refusals gets under a quarter of the attempts; once accepted again, mail leaves within 2 minutes', () => {
    const catalog = loadProviders();
    const gmail = catalog.get('google')!;
    for (const category of ['rate_limited', 'reputation_block', 'blocklisted_ip', 'authentication'] as const) {
      const s = new Shaper({ defaults: catalog.automation.defaults, providers: catalog.automation.providers });
      const c: ReplyClass = { category, permanent: false, scope: 'provider', provider: 'google' };
      let accepting = true;
      const attempts: number[] = [];
      // One attempt whenever the shaper admits one (a full queue), every refusal fed back.
      const drive = (from: number, to: number) => {
        for (let t = from; t < to; t += 250) {
          for (;;) {
            const a = s.admit(undefined, gmail, 'personal', 1, t);
            if (!a.ok) break;
            attempts.push(t);
            s.release(a.key);
            if (accepting) s.onDelivered(undefined, gmail, t);
            else s.onReply(undefined, gmail, c, reply, t, t);
          }
        }
      };
      drive(0, 10 * MIN);
      const before = attempts.length;
      accepting = false;
      drive(10 * MIN, 130 * MIN);
      const storm = attempts.filter((t) => t >= 10 * MIN && t < 20 * MIN).length;
      expect(storm, category).toBeLessThanOrEqual(before / 4);
      accepting = true;
      const back = 130 * MIN;
      drive(back, back + 5 * MIN);
      const first = attempts.find((t) => t >= back)!;
      expect(first - back, category).toBeLessThanOrEqual(2 * MIN);
      // And it keeps going: more than the one probe in the next minutes.
      expect(attempts.filter((t) => t >= back).length, category).toBeGreaterThan(3);
    }
  });
});

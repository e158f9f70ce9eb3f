/**
 * The shaping engine: per outbound identity (pool) and provider, the budget a message needs to
 * leave now — restrictions driven by replies (slow-down or suspension, escalating when the
 * provider complains again, relaxing a level per step once deliveries succeed), the pool's
 * warm-up volume of the day, the rate and the concurrent attempts. Pure: time comes in as
 * arguments, nothing here sleeps or sets timers; the scheduler parks what is not admitted and
 * asks again at `retryAt`.
 *
 * Newsletter mail (priority `bulk`) leaves only from what personal mail does not need: it never
 * waits for a rate slot, and it may not take the last PERSONAL_RESERVE of a warm-up day nor the
 * last concurrent slot.
 *
 * State is per node: a pool is this node's addresses, which is what the provider judges.
 */
import type { Envelope } from '../spool/envelope.js';
import type { ReplyCategory, ReplyClass } from './reply-class.js';
import { PERSONAL_RESERVE, type AutomationConfig, type AutomationRule, type WarmupSchedule } from './shaping-types.js';
import type { ProviderInfo, SmtpReply } from './types.js';

export type Priority = 'personal' | 'bulk';

/** Pool name of the default outbound identity. */
export const DEFAULT_POOL = 'default';
/** Longest a rate slot is waited for inside a run; further away, the message is parked instead. */
export const MAX_PACE_WAIT_MS = 1000;
/** Rate that a slow-down divides when the provider's rate is unlimited (messages per minute). */
export const NOMINAL_UNLIMITED_RATE = 600;
const MAX_LEVEL = 8;
/**
 * When replies of several kinds restrict one key, it keeps the gravest as its category and cause
 * (a block list is still the news after a later "rate limited").
 */
const GRAVITY: readonly ReplyCategory[] = ['rate_limited', 'reputation_block', 'authentication', 'blocklisted_ip'];
const graver = (a: ReplyCategory, b: ReplyCategory) => GRAVITY.indexOf(a) > GRAVITY.indexOf(b);
const DAY_MS = 86_400_000;
/**
 * Keys (pool × provider, and pool × MX host for unclaimed destinations, which recipients'
 * domains decide) kept before idle ones are forgotten.
 */
export const MAX_KEYS = 10_000;
/** When only a release of a concurrent slot can open a key, look again after this anyway. */
const BUSY_RECHECK_MS = 30_000;

export interface Limits {
  maxConnections: number;
  messagesPerConnection: number;
  /** null = unlimited */
  messagesPerMinute: number | null;
}

export interface Cause {
  reply: SmtpReply;
  class: ReplyClass;
  at: number;
  mx?: string;
}

export interface RestrictionView {
  pool: string;
  provider: string;
  mode: 'suspended' | 'slowed';
  category: ReplyCategory;
  level: number;
  since: number;
  /** Suspended: end of the suspension; slowed: end of the current step. */
  until: number;
  limits: Limits;
  /** Replies that triggered or repeated it. */
  triggers: number;
  cause: Cause;
}

export interface WarmupView {
  pool: string;
  provider: string;
  day: number;
  volume: number;
  sent: number;
}

export type ShaperEvent =
  | { type: 'restricted'; restriction: RestrictionView }
  | { type: 'probe-succeeded'; restriction: RestrictionView }
  | { type: 'relaxed'; restriction: RestrictionView }
  | { type: 'lifted'; pool: string; provider: string }
  | { type: 'cleared'; pool: string; provider: string };

export type Admission =
  | { ok: true; key: string; waitMs: number; limits: Limits; probe: boolean }
  | { ok: false; key: string; retryAt: number; reason: 'suspended' | 'warmup' | 'rate' | 'busy' };

interface Restriction {
  pool: string;
  provider: string;
  category: ReplyCategory;
  rule: AutomationRule;
  relaxStepMs: number;
  probeIntervalMs: number;
  mode: 'suspended' | 'slowed';
  level: number;
  since: number;
  changedAt: number;
  until: number;
  triggers: number;
  cause: Cause;
  attemptsInStep: number;
  successesInStep: number;
  lastProbeAt: number;
}

interface KeyState {
  pool: string;
  provider: ProviderInfo;
  inFlight: number;
  nextSlot: number;
  day: number;
  sentToday: number;
}

export interface ShaperConfig {
  /** Rules for providers without their own, and their timings. */
  defaults: AutomationConfig;
  /** Per provider id: replaces the default rule of the categories it names, and the timings. */
  providers?: Record<string, Partial<AutomationConfig>>;
  /** Per pool name. */
  warmup?: Record<string, WarmupSchedule>;
}

export const keyOf = (pool: string | undefined, provider: string): string => `${pool || DEFAULT_POOL}|${provider}`;

export class Shaper {
  private readonly restrictions = new Map<string, Restriction>();
  private readonly keys = new Map<string, KeyState>();
  private readonly listeners: Array<(e: ShaperEvent) => void> = [];
  private readonly openListeners: Array<(key: string) => void> = [];
  private sweptAt = -Infinity;

  constructor(private readonly config: ShaperConfig) {}

  /** Restriction changes (for logs and alerts). */
  onEvent(fn: (e: ShaperEvent) => void): void {
    this.listeners.push(fn);
  }

  /** A key may admit again before any time it said (a concurrent slot freed, a restriction cleared). */
  onOpen(fn: (key: string) => void): void {
    this.openListeners.push(fn);
  }

  private emit(e: ShaperEvent): void {
    for (const f of this.listeners) f(e);
  }

  private opened(key: string): void {
    for (const f of this.openListeners) f(key);
  }

  private automation(provider: string): AutomationConfig {
    const own = this.config.providers?.[provider];
    if (!own) return this.config.defaults;
    return {
      probeIntervalMs: own.probeIntervalMs ?? this.config.defaults.probeIntervalMs,
      relaxStepMs: own.relaxStepMs ?? this.config.defaults.relaxStepMs,
      rules: { ...this.config.defaults.rules, ...own.rules },
    };
  }

  private state(pool: string, provider: ProviderInfo, now: number): KeyState {
    const key = keyOf(pool, provider.id);
    let s = this.keys.get(key);
    if (s) s.provider = provider;
    else {
      // At most one sweep a second: a map full of live keys is not rescanned per new key.
      if (this.keys.size >= MAX_KEYS && now - this.sweptAt >= 1000) this.sweep(now);
      this.keys.set(key, (s = { pool: pool || DEFAULT_POOL, provider, inFlight: 0, nextSlot: 0, day: -1, sentToday: 0 }));
    }
    return s;
  }

  /**
   * Forgets keys with nothing to remember: no attempt under way, no restriction left once due
   * relaxation is applied, rate slot past, nothing counted for today's warm-up. A full map of
   * live keys stays full (each holds an attempt, a restriction or a warm-up count).
   */
  private sweep(now: number): void {
    this.sweptAt = now;
    const today = Math.floor(now / DAY_MS);
    for (const [key, s] of this.keys) {
      if (s.inFlight > 0 || s.nextSlot > now || (s.day === today && s.sentToday > 0)) continue;
      if (this.current(key, now)) continue;
      this.keys.delete(key);
    }
  }

  /** Number of keys held (bounded by MAX_KEYS while they are idle). */
  size(): number {
    return this.keys.size;
  }

  /** The provider's configured limits, lowered by a restriction in force. */
  limits(pool: string | undefined, provider: ProviderInfo, now: number): Limits {
    const base = baseLimits(provider);
    const r = this.current(keyOf(pool, provider.id), now);
    return r ? restrictedLimits(base, r) : base;
  }

  /** Applies due suspension ends and relaxation steps; returns the restriction still in force. */
  private current(key: string, now: number): Restriction | undefined {
    const r = this.restrictions.get(key);
    if (!r) return undefined;
    if (r.mode === 'suspended' && now >= r.until) {
      r.mode = 'slowed';
      r.changedAt = r.until;
      r.until += r.relaxStepMs;
      r.attemptsInStep = 0;
      r.successesInStep = 0;
    }
    while (r.mode === 'slowed' && now >= r.until) {
      // A step that had attempts but no success (failures of another kind) does not relax.
      if (r.attemptsInStep > 0 && r.successesInStep === 0) {
        r.until = now + r.relaxStepMs;
        r.attemptsInStep = 0;
        break;
      }
      r.level--;
      if (r.level <= 0) {
        this.restrictions.delete(key);
        this.emit({ type: 'lifted', pool: r.pool, provider: r.provider });
        return undefined;
      }
      r.changedAt = r.until;
      r.until += r.relaxStepMs;
      r.attemptsInStep = 0;
      r.successesInStep = 0;
      this.emit({ type: 'relaxed', restriction: this.view(r) });
    }
    return r;
  }

  /**
   * May one attempt of `rcpts` recipients to this provider leave now? On ok the budget is taken:
   * call `release` when the attempt is over, and wait `waitMs` (its rate slot) before sending.
   * `operator`: an admin asked for this attempt; while suspended it goes as a probe at once.
   */
  admit(pool: string | undefined, provider: ProviderInfo, priority: Priority, rcpts: number, now: number, operator = false): Admission {
    const s = this.state(pool ?? '', provider, now);
    const key = keyOf(pool, provider.id);
    const r = this.current(key, now);
    const lim = this.limits(pool, provider, now);
    let probe = false;
    if (r?.mode === 'suspended') {
      const nextProbe = r.probeIntervalMs > 0 ? r.lastProbeAt + r.probeIntervalMs : Infinity;
      if (!operator && (now < nextProbe || s.inFlight > 0)) return { ok: false, key, reason: 'suspended', retryAt: Math.min(r.until, Math.max(nextProbe, now + 1000)) };
      probe = true;
    }
    const w = this.warmupLeft(s, now);
    if (w !== null) {
      const reserve = priority === 'bulk' ? Math.ceil(w.volume * PERSONAL_RESERVE) : 0;
      if (w.left - reserve < 1) return { ok: false, key, reason: 'warmup', retryAt: (w.day + 1) * DAY_MS };
    }
    const maxInFlight = 2 * lim.maxConnections;
    const bulkMax = maxInFlight > 1 ? maxInFlight - 1 : maxInFlight;
    if (s.inFlight >= (priority === 'bulk' ? bulkMax : maxInFlight)) return { ok: false, key, reason: 'busy', retryAt: now + BUSY_RECHECK_MS };
    let waitMs = 0;
    if (lim.messagesPerMinute !== null && !probe) {
      const spacing = 60_000 / lim.messagesPerMinute;
      const at = Math.max(now, s.nextSlot);
      const allowed = priority === 'bulk' ? 0 : MAX_PACE_WAIT_MS;
      if (at - now > allowed) return { ok: false, key, reason: 'rate', retryAt: at - allowed };
      s.nextSlot = at + spacing;
      waitMs = at - now;
    }
    s.inFlight++;
    if (w !== null) s.sentToday += rcpts;
    if (r) {
      r.attemptsInStep++;
      if (probe) r.lastProbeAt = now;
    }
    return { ok: true, key, waitMs, limits: lim, probe };
  }

  /** The attempt admitted for `key` is over. */
  release(key: string): void {
    const s = this.keys.get(key);
    if (!s) return;
    s.inFlight = Math.max(0, s.inFlight - 1);
    this.opened(key);
  }

  /** How many attempts of this priority the key would admit now (what the scheduler unparks). */
  capacity(key: string, priority: Priority, now: number): number {
    const s = this.keys.get(key);
    if (!s) return 1;
    const r = this.current(key, now);
    if (r?.mode === 'suspended') return r.probeIntervalMs > 0 && now >= r.lastProbeAt + r.probeIntervalMs && s.inFlight === 0 ? 1 : 0;
    const lim = this.limits(s.pool, s.provider, now);
    const maxInFlight = 2 * lim.maxConnections;
    let n = (priority === 'bulk' && maxInFlight > 1 ? maxInFlight - 1 : maxInFlight) - s.inFlight;
    const w = this.warmupLeft(s, now);
    if (w !== null) n = Math.min(n, w.left - (priority === 'bulk' ? Math.ceil(w.volume * PERSONAL_RESERVE) : 0));
    if (lim.messagesPerMinute !== null) {
      const spacing = 60_000 / lim.messagesPerMinute;
      const horizon = now + (priority === 'bulk' ? 0 : MAX_PACE_WAIT_MS);
      const first = Math.max(now, s.nextSlot);
      n = Math.min(n, first > horizon ? 0 : Math.floor((horizon - first) / spacing) + 1);
    }
    return Math.max(0, n);
  }

  /** Warm-up volume of the key's day, or null when its pool has none (or it is over). */
  private warmupLeft(s: KeyState, now: number): { day: number; volume: number; left: number } | null {
    const sched = this.config.warmup?.[s.pool];
    // `other:<mx>` keys count as `other` in the schedule's provider list.
    if (!sched || (sched.providers && !sched.providers.includes(s.provider.id.split(':')[0]!))) return null;
    const volume = warmupVolume(sched, now);
    if (volume === null) return null;
    const day = Math.floor(now / DAY_MS);
    if (s.day !== day) {
      s.day = day;
      s.sentToday = 0;
    }
    return { day, volume, left: volume - s.sentToday };
  }

  /**
   * A failed attempt's reply. Replies about the provider's view of us (scope `provider`) with a
   * rule for their category restrict the key, or escalate the restriction in force — unless the
   * attempt started before its last change (it was sent under the older limits).
   */
  onReply(pool: string | undefined, provider: ProviderInfo, c: ReplyClass, reply: SmtpReply, startedAt: number, now: number, mx?: string): RestrictionView | null {
    if (c.scope !== 'provider') return null;
    const auto = this.automation(provider.id);
    const rule = auto.rules[c.category];
    if (!rule) return null;
    const key = keyOf(pool, provider.id);
    const cause: Cause = { reply, class: c, at: now, ...(mx ? { mx } : {}) };
    const old = this.current(key, now);
    const keep = old !== undefined && graver(old.category, c.category);
    if (old && startedAt < old.changedAt) {
      old.triggers++;
      if (!keep) old.cause = cause;
      return null;
    }
    const level = Math.min(MAX_LEVEL, (old?.level ?? 0) + 1);
    const suspend = rule.action === 'suspend' || old?.mode === 'suspended';
    const applied = keep ? old.rule : rule;
    const duration = Math.min(applied.maxDurationMs, applied.durationMs * 2 ** (level - 1));
    const r: Restriction = {
      pool: pool || DEFAULT_POOL,
      provider: provider.id,
      category: keep ? old.category : c.category,
      rule: applied,
      relaxStepMs: auto.relaxStepMs,
      probeIntervalMs: auto.probeIntervalMs,
      mode: suspend ? 'suspended' : 'slowed',
      level,
      since: old?.since ?? now,
      changedAt: now,
      until: now + duration,
      triggers: (old?.triggers ?? 0) + 1,
      cause: keep ? old.cause : cause,
      attemptsInStep: 0,
      successesInStep: 0,
      lastProbeAt: now,
    };
    this.state(pool ?? '', provider, now);
    this.restrictions.set(key, r);
    const view = this.view(r);
    this.emit({ type: 'restricted', restriction: view });
    return view;
  }

  /** A delivered attempt: a probe that gets through ends the suspension (relief at its level). */
  onDelivered(pool: string | undefined, provider: ProviderInfo, now: number): void {
    const key = keyOf(pool, provider.id);
    const r = this.current(key, now);
    if (!r) return;
    if (r.mode === 'suspended') {
      r.mode = 'slowed';
      r.changedAt = now;
      r.until = now + r.relaxStepMs;
      r.attemptsInStep = 0;
      r.successesInStep = 0;
      this.emit({ type: 'probe-succeeded', restriction: this.view(r) });
      this.opened(key);
      return;
    }
    r.successesInStep++;
  }

  /** Ends restrictions of a provider (every pool, or one). Returns how many. */
  clear(provider: string, pool?: string): number {
    let n = 0;
    for (const [key, r] of this.restrictions) {
      if (r.provider !== provider || (pool !== undefined && r.pool !== (pool || DEFAULT_POOL))) continue;
      this.restrictions.delete(key);
      n++;
      this.emit({ type: 'cleared', pool: r.pool, provider: r.provider });
      this.opened(key);
    }
    return n;
  }

  list(now: number): RestrictionView[] {
    const out: RestrictionView[] = [];
    for (const key of [...this.restrictions.keys()]) {
      const r = this.current(key, now);
      if (r) out.push(this.view(r));
    }
    return out.sort((a, b) => a.since - b.since);
  }

  /** Keys under a warm-up limit today, with what they sent. */
  warmups(now: number): WarmupView[] {
    const out: WarmupView[] = [];
    for (const s of this.keys.values()) {
      const w = this.warmupLeft(s, now);
      if (w) out.push({ pool: s.pool, provider: s.provider.id, day: w.day, volume: w.volume, sent: s.sentToday });
    }
    return out;
  }

  private view(r: Restriction): RestrictionView {
    const s = this.keys.get(keyOf(r.pool, r.provider));
    const base = s ? baseLimits(s.provider) : { maxConnections: 1, messagesPerConnection: 1, messagesPerMinute: null };
    return {
      pool: r.pool,
      provider: r.provider,
      mode: r.mode,
      category: r.category,
      level: r.level,
      since: r.since,
      until: r.until,
      limits: restrictedLimits(base, r),
      triggers: r.triggers,
      cause: r.cause,
    };
  }
}

function baseLimits(p: ProviderInfo): Limits {
  return {
    maxConnections: Math.max(1, p.shaping.maxConnections),
    messagesPerConnection: Math.max(1, p.shaping.messagesPerConnection),
    messagesPerMinute: p.shaping.messagesPerMinute,
  };
}

function restrictedLimits(base: Limits, r: Restriction): Limits {
  if (r.mode === 'suspended') return { ...base, maxConnections: 1, messagesPerMinute: 0 };
  const f = r.rule.factor ** r.level;
  return {
    maxConnections: Math.max(1, Math.floor(base.maxConnections * f)),
    messagesPerConnection: base.messagesPerConnection,
    messagesPerMinute: Math.max(1, Math.floor((base.messagesPerMinute ?? NOMINAL_UNLIMITED_RATE) * f)),
  };
}

/** Messages per provider allowed on the day of `now` (day 0 before the start); null once warm-up is over. */
export function warmupVolume(s: WarmupSchedule, now: number): number | null {
  const day = Math.max(0, Math.floor((now - s.startDay) / DAY_MS));
  const v = Math.floor(s.initial * s.growth ** day);
  return v >= s.max ? null : v;
}

/** Newsletter (Listmonk) mail gives way to person-to-person mail, DSNs and notices. */
export function priorityOf(env: Pick<Envelope, 'newsletter' | 'listmonk'>): Priority {
  return env.newsletter || env.listmonk ? 'bulk' : 'personal';
}

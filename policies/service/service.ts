/**
 * The policy service: runs the pure policies with facts from the store and the tenant directory.
 * Order at end of DATA: sender authorisation → bulk → compromised-account guard → quotas. Quotas
 * are consumed last, so a message refused by an earlier check never uses quota. Every verdict is
 * counted in hourly stats buckets.
 */
import { StoreUnavailableError, type ConsumeResult, type Store } from '../../src/store/types.js';
import type { ClientIdentity, MessageFacts, Verdict } from '../types.js';
import { authorizeEnvelope, authorizeSender } from '../sender.js';
import { normalizeAddress } from '../address.js';
import { domainOf, normalizeDomain } from '../../src/util/domain.js';
import { bulkVerdict, type BulkHit } from '../bulk.js';
import { holdNotice } from '../guard.js';
import { quotaAnswer, storeDownAnswer, tooLargeAnswer } from '../answers.js';
import { LIMIT_LEVELS, type LimitLevel, type LimitSet } from '../limits.js';
import type { DirectorySnapshot, TenantDirectory } from '../../src/tenants/directory.js';
import { limitSet } from '../../src/tenants/checks.js';
import { Problems } from '../../config/validate.js';
import { DEFAULT_POLICY_CONFIG, type PolicyConfig } from './config.js';
import { LocalLimiter } from './local-limiter.js';
import { limitsFor, requestsFor, type KeyedLimit, type LimitUsage, type SenderScope } from './quota.js';
import { OverrideCache } from './overrides.js';
import { bulkBeforeCounting, bulkSkipIf, planSignals, readSignals, recordNewDomains, recordVolume, historyCache, type HistoryCache, type SenderSignals } from './signals.js';
import { HincrBuffer } from '../../src/store/hincr-buffer.js';
import { SenderContexts } from './sender-context.js';
import { FingerprintSightings } from './fingerprint-sightings.js';
import { recordVerdict } from './stats.js';

export type QuotaTarget = string | { level: LimitLevel; id: string };

export interface PolicyService {
  /** At MAIL FROM: envelope-domain check only. null = go on. */
  checkSender(client: ClientIdentity, mailFrom: string): Promise<Verdict | null>;
  /** Whether decide() uses a body fingerprint for this client's mail (bulk signal). */
  usesFingerprint(client: ClientIdentity): boolean;
  /** At end of DATA: the full decision (consumes quota when accepted or held). */
  decide(facts: MessageFacts): Promise<Verdict>;
  /** Limits and usage of an address (all its levels), a domain (domain + tenant) or a tenant id. */
  quotaUsage(target: QuotaTarget): Promise<LimitUsage[]>;
  /** Forget the usage of the target's own level (admin reset). */
  resetQuota(target: QuotaTarget): Promise<void>;
  /** Run-time limit override for one mailbox / domain / tenant (wins over YAML); throws ConfigError. */
  setOverride(level: LimitLevel, id: string, limits: unknown): Promise<LimitSet>;
  clearOverride(level: LimitLevel, id: string): Promise<boolean>;
  listOverrides(): Promise<{ level: LimitLevel; id: string; limits: LimitSet }[]>;
  /** Writes what is buffered (guard history) and stops the timers. */
  close(): Promise<void>;
}

export interface PolicyServiceOptions {
  store: Store;
  tenants: TenantDirectory;
  config?: PolicyConfig;
  /**
   * Count each verdict in the store's hourly verdict buckets (default true). The relay turns it
   * off: its stats recorder batches verdicts in memory, which keeps store writes off the
   * per-message path.
   */
  recordVerdicts?: boolean;
}

const PACING_SLACK_MS = 1000;
/** The per-node fallback ignores run-time overrides (they live in the unreachable store). */
const NO_OVERRIDES: ReadonlyMap<string, LimitSet> = new Map<string, LimitSet>();

export function createPolicyService(opts: PolicyServiceOptions): PolicyService {
  const { store, tenants } = opts;
  const cfg = opts.config ?? DEFAULT_POLICY_CONFIG;
  const local = new LocalLimiter();
  const overrides = new OverrideCache(store);
  const history = new HincrBuffer(store);
  const contexts = new SenderContexts(cfg);
  const histories: HistoryCache = historyCache();
  const sightings = new FingerprintSightings();

  const finish = async (v: Verdict, now: number): Promise<Verdict> => {
    if (opts.recordVerdicts !== false) await recordVerdict(store, v, now, cfg.stats_ttl_days);
    return v;
  };
  /** Reference time of the quota windows (what resetAt values are relative to). */
  const refNow = (f: MessageFacts, isLocal: boolean): number => (cfg.clock === 'facts' || isLocal ? f.now : Date.now());

  function quotaVerdict(f: MessageFacts, scope: SenderScope, l: KeyedLimit, cost: number, limit: number, used: number, resetAt: number, isLocal: boolean): Verdict {
    const subject = { level: l.level, id: l.level === 'tenant' ? (scope.tenant?.name ?? l.id) : l.id };
    const effective = { ...l, limit };
    const smtp = cost > limit ? tooLargeAnswer(effective, subject, cost) : quotaAnswer(effective, subject, resetAt, refNow(f, isLocal), cfg.timezone, used);
    return {
      action: smtp.code >= 500 ? 'reject' : 'defer', reason: 'quota', detail: `${l.level}.${l.name}`, smtp,
      tenant: scope.tenant?.id, mailbox: scope.mailbox,
      limit: { level: l.level, name: l.name, limit, used, resetAt, hard: l.hard || cost > limit },
    };
  }

  async function newsletter(f: MessageFacts, scope: SenderScope, isLocal: boolean): Promise<Verdict> {
    const limits = limitsFor(cfg, scope, 'newsletter');
    const reqs = requestsFor(limits, f.recipients.length, isLocal ? cfg.local_limit_factor : 1);
    const r = isLocal ? local.reserve(reqs, f.now) : await store.reserve(reqs, cfg.clock === 'facts' ? f.now : undefined);
    const base: Verdict = { action: 'accept', reason: 'ok', tenant: scope.tenant?.id, mailbox: scope.mailbox };
    if (r.at - refNow(f, isLocal) <= PACING_SLACK_MS) return base;
    const i = Math.max(0, r.states.findIndex((s, k) => s.used > reqs[k].limit));
    const l = limits[i];
    return {
      ...base, reason: 'paced', detail: `newsletter.${l.level}.${l.name}`, notBefore: r.at,
      limit: { level: l.level, name: l.name, limit: reqs[i].limit, used: r.states[i].used, resetAt: r.at, hard: false },
    };
  }

  async function evaluate(f: MessageFacts, scope: SenderScope, isLocal: boolean): Promise<Verdict> {
    if (f.client.newsletter) return newsletter(f, scope, isLocal);
    const { tenant, mailbox = '' } = scope;
    const ctx = contexts.get(scope, isLocal ? NO_OVERRIDES : overrides.cached() ?? (await overrides.current()));
    const { limits, bulk, keys } = ctx;
    const guardPolicy = isLocal && ctx.guard.enabled ? { ...ctx.guard, enabled: false } : ctx.guard;
    const input = { f, mailbox, keys, bulk, guard: guardPolicy, history, histories, sightings };
    const bulkRefusal = (hit: BulkHit | null): Verdict | null => {
      const v = hit && bulkVerdict(hit, bulk.action, tenant?.id, tenant?.listmonk?.public_url ?? tenant?.listmonk?.url);
      return v ? { ...v, mailbox } : null;
    };

    const reqs = isLocal ? requestsFor(limits, f.recipients.length, cfg.local_limit_factor) : ctx.requests(f.recipients.length);
    let signals: SenderSignals;
    let r: ConsumeResult | null;
    if (isLocal) {
      // Without the store only the per-transaction bulk signals are known.
      const refusal = bulkRefusal(bulkBeforeCounting(input, false));
      if (refusal) return refusal;
      signals = { bulk: null, guard: null };
      r = local.consume(reqs, f.now);
    } else {
      // One store call: the counters, then the quota charge unless they make the message bulk
      // (a refused message uses no quota). Signals known beforehand skip the charge outright.
      const plan = planSignals(input);
      const refusing = bulk.action !== 'allow';
      const early = refusing && bulkBeforeCounting(input, plan.split !== undefined, plan) !== null;
      const out = await store.countAndConsume(plan.ops, {
        requests: early ? [] : reqs,
        now: cfg.clock === 'facts' ? f.now : undefined,
        skipIf: refusing ? bulkSkipIf(plan, bulk) : [],
      });
      signals = readSignals(input, plan, out.counters);
      const refusal = bulkRefusal(signals.bulk);
      if (refusal) return refusal;
      // Skipped although not bulk cannot happen (same thresholds); charge anyway if it does.
      r = out.consume ?? (await store.consume(reqs, cfg.clock === 'facts' ? f.now : undefined));
    }
    const guard = signals.guard;
    if (guard?.freshDomains.length) await recordNewDomains(store, keys, guard.freshDomains, f.now).catch(() => undefined);
    if (!r.allowed && r.refused) {
      const i = reqs.findIndex((q) => q.key === r.refused!.key);
      return quotaVerdict(f, scope, limits[i], reqs[i].cost, reqs[i].limit, r.refused.used, r.refused.resetAt, isLocal);
    }
    if (guard) recordVolume(history, histories, keys, f.now, guardPolicy);
    const base: Verdict = { action: 'accept', reason: 'ok', tenant: tenant?.id, mailbox };
    if (!guard?.hit) return base;
    const first = (await store.setIfAbsent(`guard:notified:${mailbox}`, String(f.now), 3_600_000).catch(() => 'unknown')) === null;
    return {
      ...base, action: 'hold', reason: 'compromised', detail: guard.hit.signal,
      holdReason: `${guard.hit.text.fr} / ${guard.hit.text.en}`,
      notice: first ? holdNotice(mailbox, guard.hit, guardPolicy.notify) : undefined,
    };
  }

  async function decide(f: MessageFacts): Promise<Verdict> {
    const snap = tenants.cached() ?? (await tenants.snapshot());
    const mailbox = f.mailFrom === '' ? '' : normalizeAddress(f.mailFrom) ?? f.mailFrom.toLowerCase();
    const sender = authorizeSender({ client: f.client, mailFrom: f.mailFrom, from: f.headers.from, fromRaw: f.headers.fromRaw, tenantOf: snap.tenantOf });
    if (!sender.ok) return finish({ ...sender.verdict, mailbox }, f.now);
    // Null sender (allowed clients only) and Relais's own mail carry no quota.
    if (!sender.domain || f.client.internal || f.client.trusted) return finish({ action: 'accept', reason: 'ok', tenant: sender.tenant, mailbox }, f.now);
    const scope: SenderScope = { tenant: sender.tenant ? snap.tenants.get(sender.tenant) : undefined, domain: sender.domain, mailbox };
    try {
      return await finish(await evaluate(f, scope, false), f.now);
    } catch (err) {
      if (!(err instanceof StoreUnavailableError)) throw err;
      if (cfg.store_failure === 'local') return evaluate(f, scope, true);
      return { action: 'defer', reason: 'store_unavailable', smtp: storeDownAnswer(), tenant: scope.tenant?.id, mailbox };
    }
  }

  async function checkSender(client: ClientIdentity, mailFrom: string): Promise<Verdict | null> {
    const snap = tenants.cached() ?? (await tenants.snapshot());
    const d = authorizeEnvelope(client, mailFrom, snap.tenantOf);
    if (d.ok) return null;
    const mailbox = mailFrom === '' ? '' : normalizeAddress(mailFrom) ?? mailFrom.toLowerCase();
    return finish({ ...d.verdict, mailbox }, Date.now());
  }

  /** Scope and own level of a usage/reset target. */
  function resolveTarget(snap: DirectorySnapshot, target: QuotaTarget): { scope: SenderScope; level: LimitLevel } {
    const t = typeof target === 'string'
      ? { level: (target.includes('@') ? 'mailbox' : snap.tenants.has(target) ? 'tenant' : 'domain') as LimitLevel, id: target }
      : target;
    if (t.level === 'tenant') {
      const tenant = snap.tenants.get(t.id);
      if (!tenant) throw new Error(`unknown tenant "${t.id}"`);
      return { level: 'tenant', scope: { tenant, domain: tenant.domains[0] ?? '-' } };
    }
    const domain = normalizeDomain(t.level === 'mailbox' ? domainOf(t.id) : t.id);
    const mailbox = t.level === 'mailbox' ? normalizeAddress(t.id) : undefined;
    if (domain === null || (t.level === 'mailbox' && !mailbox)) throw new Error(`invalid ${t.level} "${t.id}"`);
    return { level: t.level, scope: { tenant: snap.resolveSenderDomain(domain), domain, mailbox: mailbox ?? undefined } };
  }

  async function quotaUsage(target: QuotaTarget): Promise<LimitUsage[]> {
    const { scope, level } = resolveTarget(await tenants.snapshot(), target);
    const own = (l: KeyedLimit): boolean => level !== 'tenant' || l.level === 'tenant';
    const out: LimitUsage[] = [];
    for (const kind of ['smtp', 'newsletter'] as const) {
      const limits = limitsFor(cfg, scope, kind, kind === 'smtp' ? await overrides.forScope(scope) : {}).filter(own);
      const states = await store.peek(limits.map((l) => ({ key: l.key, limit: l.limit, windowMs: l.windowMs })));
      limits.forEach((l, i) => out.push({
        scope: kind, level: l.level, id: l.id, name: l.name, limit: l.limit, windowMs: l.windowMs, hard: l.hard,
        used: states[i].used, resetAt: states[i].resetAt,
      }));
    }
    return out;
  }

  async function resetQuota(target: QuotaTarget): Promise<void> {
    const { scope, level } = resolveTarget(await tenants.snapshot(), target);
    const keys = (['smtp', 'newsletter'] as const).flatMap((k) => limitsFor(cfg, scope, k).filter((l) => l.level === level).map((l) => l.key));
    await store.resetLimits(keys);
  }

  function overrideId(level: LimitLevel, id: string): string {
    const n = level === 'mailbox' ? normalizeAddress(id) : level === 'domain' ? normalizeDomain(id) : id;
    if (!n || !LIMIT_LEVELS.includes(level)) throw new Error(`invalid ${level} "${id}"`);
    return n;
  }

  return {
    checkSender,
    // Trusted and newsletter clients are never judged bulk; Relais's own mail neither.
    usesFingerprint: (client) => !client.trusted && !client.newsletter && !client.internal,
    decide,
    quotaUsage,
    resetQuota,
    async setOverride(level, id, raw) {
      const p = new Problems();
      const set = limitSet(raw ?? {}, 'limits', p) ?? {};
      p.throwIfAny();
      await overrides.set(level, overrideId(level, id), set);
      return set;
    },
    async clearOverride(level, id) {
      return overrides.clear(level, overrideId(level, id));
    },
    listOverrides: () => overrides.list(),
    async close() {
      await overrides.close();
      await history.close();
    },
  };
}

/**
 * Quota plumbing between the pure limit selection and the store: which limits apply to a sender,
 * their counter keys (admin overrides: overrides.ts).
 * All counters of one sender share one Redis hash tag (its tenant, else its domain), so a single
 * atomic script charges mailbox + domain + tenant together even on Redis Cluster.
 */
import { limitKey } from '../../src/store/keys.js';
import type { LimitRequest } from '../../src/store/types.js';
import { costFor, selectLimits, type EffectiveLimit, type LevelLimits, type LimitLevel } from '../limits.js';
import type { TenantView } from '../../src/tenants/types.js';
import type { PolicyConfig } from './config.js';

export type QuotaScope = 'smtp' | 'newsletter';

export interface SenderScope {
  tenant?: TenantView;
  /** ASCII domain of the sender. */
  domain: string;
  /** Normalised mailbox, or undefined when only domain/tenant levels are asked for. */
  mailbox?: string;
}

export interface KeyedLimit extends EffectiveLimit {
  /** Who the limit is for: the address, the domain, or the tenant id. */
  id: string;
  key: string;
}

export function levelIds(s: SenderScope): Partial<Record<LimitLevel, string>> {
  return { mailbox: s.mailbox, domain: s.domain, tenant: s.tenant?.id };
}

function levelsOf(s: SenderScope): LimitLevel[] {
  const ids = levelIds(s);
  return (['mailbox', 'domain', 'tenant'] as const).filter((l) => ids[l] !== undefined);
}

export function limitsFor(cfg: PolicyConfig, s: SenderScope, scope: QuotaScope, overrides: LevelLimits = {}): KeyedLimit[] {
  const ids = levelIds(s);
  const tag = s.tenant ? `t:${s.tenant.id}` : `d:${s.domain}`;
  const prefix = scope === 'smtp' ? 'q' : 'nl';
  const limits = selectLimits({
    defaults: scope === 'smtp' ? cfg.defaults.limits : cfg.defaults.newsletter_limits,
    tenant: scope === 'smtp' ? s.tenant?.limits : s.tenant?.newsletter_limits,
    mailbox: scope === 'smtp' && s.mailbox ? s.tenant?.mailboxes[s.mailbox]?.limits : undefined,
    overrides: scope === 'smtp' ? overrides : undefined,
    levels: levelsOf(s),
  });
  return limits.map((l) => ({ ...l, id: ids[l.level]!, key: limitKey(tag, `${prefix}:${l.level}:${ids[l.level]}:${l.name}`) }));
}

export function requestsFor(limits: KeyedLimit[], recipients: number, factor = 1): LimitRequest[] {
  return limits.map((l) => ({
    key: l.key,
    limit: Math.max(1, Math.floor(l.limit * factor)),
    windowMs: l.windowMs,
    cost: costFor(l, recipients),
  }));
}

export interface LimitUsage {
  scope: QuotaScope;
  level: LimitLevel;
  id: string;
  name: string;
  limit: number;
  windowMs: number;
  hard: boolean;
  used: number;
  resetAt: number;
}

/**
 * The `policies:` section of the main YAML file. Every key is optional; see DEFAULT_POLICY_CONFIG.
 */
import type { LevelLimits } from '../limits.js';
import { DEFAULT_BULK, type BulkPolicy } from '../bulk.js';
import { DEFAULT_GUARD, type GuardPolicy } from '../guard.js';
import { bulkPolicy, guardPolicy, levelLimits, object } from '../../src/tenants/checks.js';
import { Problems, optStr, posInt, posNumber } from '../../config/validate.js';

export interface PolicyConfig {
  /** Store unreachable: "tempfail" answers 451 4.3.0; "local" enforces per-node local limits. */
  store_failure: 'tempfail' | 'local';
  /** In "local" mode each node allows this fraction of every limit on its own. */
  local_limit_factor: number;
  /** "store": windows use the store's clock (Redis TIME), one clock for all nodes; "facts": MessageFacts.now. */
  clock: 'store' | 'facts';
  /** Time zone of the "retry after 14:05" clock in answers (default: the system's). */
  timezone?: string;
  /** How long hourly verdict stats buckets are kept. */
  stats_ttl_days: number;
  defaults: {
    limits: LevelLimits;
    newsletter_limits: LevelLimits;
    bulk: BulkPolicy;
  };
  guard: GuardPolicy;
}

export const DEFAULT_POLICY_CONFIG: PolicyConfig = {
  store_failure: 'tempfail',
  local_limit_factor: 1,
  clock: 'store',
  stats_ttl_days: 35,
  defaults: {
    limits: { mailbox: { messages_per_hour: 200, recipients_per_day: 1000 } },
    newsletter_limits: { tenant: { messages_per_hour: 3000 } },
    bulk: DEFAULT_BULK,
  },
  guard: DEFAULT_GUARD,
};

/** Validate `policies:` (throws ConfigError with paths like "policies.guard.volume_factor"). */
export function resolvePolicyConfig(raw: unknown, path = 'policies'): PolicyConfig {
  const p = new Problems();
  const o = object(raw ?? {}, path, p, ['store_failure', 'local_limit_factor', 'clock', 'timezone', 'stats_ttl_days', 'defaults', 'guard']);
  const d = object(o?.defaults, `${path}.defaults`, p, ['limits', 'newsletter_limits', 'bulk']);
  const cfg: PolicyConfig = structuredClone(DEFAULT_POLICY_CONFIG);
  if (o?.store_failure !== undefined) {
    if (o.store_failure !== 'tempfail' && o.store_failure !== 'local') p.add(`${path}.store_failure`, 'must be tempfail or local');
    else cfg.store_failure = o.store_failure;
  }
  if (o?.clock !== undefined) {
    if (o.clock !== 'store' && o.clock !== 'facts') p.add(`${path}.clock`, 'must be store or facts');
    else cfg.clock = o.clock;
  }
  const factor = p.opt(o?.local_limit_factor, `${path}.local_limit_factor`, posNumber);
  if (factor !== undefined) {
    if (factor > 1) p.add(`${path}.local_limit_factor`, 'must be at most 1');
    else cfg.local_limit_factor = factor;
  }
  const tz = p.opt(o?.timezone, `${path}.timezone`, optStr);
  if (tz !== undefined) {
    try { new Intl.DateTimeFormat('fr-FR', { timeZone: tz }); cfg.timezone = tz; } catch { p.add(`${path}.timezone`, `unknown time zone "${tz}"`); }
  }
  cfg.stats_ttl_days = p.opt(o?.stats_ttl_days, `${path}.stats_ttl_days`, posInt) ?? cfg.stats_ttl_days;
  if (d?.limits !== undefined) cfg.defaults.limits = levelLimits(d.limits, `${path}.defaults.limits`, p);
  if (d?.newsletter_limits !== undefined) cfg.defaults.newsletter_limits = levelLimits(d.newsletter_limits, `${path}.defaults.newsletter_limits`, p);
  cfg.defaults.bulk = { ...DEFAULT_BULK, ...bulkPolicy(d?.bulk, `${path}.defaults.bulk`, p) };
  cfg.guard = { ...DEFAULT_GUARD, ...guardPolicy(o?.guard, `${path}.guard`, p) };
  p.throwIfAny();
  return cfg;
}

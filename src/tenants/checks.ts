/**
 * The parts of tenants and policies that several sections share (limits, bulk, guard), checked
 * with the one validation kit (config/validate.ts), every problem collected with its key path,
 * e.g. "tenants[2].limits.mailbox.messages_per_hour: must be a positive integer".
 */
import { substituteEnv, MissingEnvError } from './env.js';
import { LIMIT_LEVELS, LIMIT_NAMES, type LevelLimits, type LimitSet } from '../../policies/limits.js';
import { BULK_ACTIONS, type BulkPolicy } from '../../policies/bulk.js';
import type { GuardPolicy } from '../../policies/guard.js';
import { bool, isObj, mapping, onlyKeys, oneOf, posInt, posNumber, strList, type Obj, type Problems } from '../../config/validate.js';

/** Copy of a parsed YAML value with ${VAR} substituted in every string. */
export function substituteDeep(v: unknown, path: string, p: Problems, env: NodeJS.ProcessEnv): unknown {
  if (typeof v === 'string') {
    try {
      return substituteEnv(v, env);
    } catch (err) {
      if (err instanceof MissingEnvError) return p.add(path, err.message) ?? v;
      throw err;
    }
  }
  if (Array.isArray(v)) return v.map((x, i) => substituteDeep(x, `${path}[${i}]`, p, env));
  if (isObj(v)) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, substituteDeep(x, `${path}.${k}`, p, env)]));
  return v;
}

/** An optional mapping: its unknown keys are problems, but the keys it knows are still read. */
export function object(v: unknown, path: string, p: Problems, allowed: readonly string[]): Obj | undefined {
  if (v === undefined || v === null) return undefined;
  const o = p.take(() => mapping(v, path));
  if (o) p.take(() => onlyKeys(o, path, allowed));
  return o;
}

export function limitSet(v: unknown, path: string, p: Problems): LimitSet | undefined {
  const o = object(v, path, p, [...LIMIT_NAMES, 'hard']);
  if (!o) return undefined;
  const out: LimitSet = {};
  for (const name of LIMIT_NAMES) {
    const x = o[name];
    if (x === undefined) continue;
    if (isObj(x)) {
      const lo = object(x, `${path}.${name}`, p, ['limit', 'hard']);
      const limit = lo?.limit === undefined ? p.add(`${path}.${name}.limit`, 'is required') : p.opt(lo.limit, `${path}.${name}.limit`, posInt);
      const hard = p.opt(lo?.hard, `${path}.${name}.hard`, bool);
      if (limit !== undefined) out[name] = hard === undefined ? { limit } : { limit, hard };
    } else {
      const limit = p.opt(x, `${path}.${name}`, posInt);
      if (limit !== undefined) out[name] = limit;
    }
  }
  const hard = p.opt(o.hard, `${path}.hard`, bool);
  if (hard !== undefined) out.hard = hard;
  return out;
}

export function levelLimits(v: unknown, path: string, p: Problems): LevelLimits {
  const o = object(v, path, p, LIMIT_LEVELS);
  const out: LevelLimits = {};
  for (const level of LIMIT_LEVELS) {
    const s = limitSet(o?.[level], `${path}.${level}`, p);
    if (s) out[level] = s;
  }
  return out;
}

const BULK_KEYS = ['recipients_per_message', 'distinct_recipients_per_day', 'fingerprint_recipients', 'fingerprint_window_minutes', 'split_window_minutes', 'newsletter_headers', 'action'] as const;

export function bulkPolicy(v: unknown, path: string, p: Problems): Partial<BulkPolicy> {
  const o = object(v, path, p, BULK_KEYS);
  const out: Partial<BulkPolicy> = {};
  if (!o) return out;
  for (const k of ['recipients_per_message', 'distinct_recipients_per_day', 'fingerprint_recipients', 'fingerprint_window_minutes', 'split_window_minutes'] as const) {
    const n = p.opt(o[k], `${path}.${k}`, posInt);
    if (n !== undefined) out[k] = n;
  }
  const nh = p.opt(o.newsletter_headers, `${path}.newsletter_headers`, bool);
  if (nh !== undefined) out.newsletter_headers = nh;
  const action = p.opt(o.action, `${path}.action`, (x, key) => oneOf(x, key, BULK_ACTIONS));
  if (action !== undefined) out.action = action;
  return out;
}

const GUARD_KEYS = ['enabled', 'volume_factor', 'min_hourly', 'history_days', 'new_domains_per_hour', 'min_known_domains', 'notify'] as const;

export function guardPolicy(v: unknown, path: string, p: Problems): Partial<GuardPolicy> {
  const o = object(v, path, p, GUARD_KEYS);
  const out: Partial<GuardPolicy> = {};
  if (!o) return out;
  const enabled = p.opt(o.enabled, `${path}.enabled`, bool);
  if (enabled !== undefined) out.enabled = enabled;
  const factor = p.opt(o.volume_factor, `${path}.volume_factor`, posNumber);
  if (factor !== undefined) out.volume_factor = factor;
  for (const k of ['min_hourly', 'history_days', 'new_domains_per_hour', 'min_known_domains'] as const) {
    const n = p.opt(o[k], `${path}.${k}`, posInt);
    if (n !== undefined) out[k] = n;
  }
  const notify = p.opt(o.notify, `${path}.notify`, strList);
  if (notify) {
    notify.forEach((a, i) => { if (!/^[^@\s]+@[^@\s]+$/.test(a)) p.add(`${path}.notify[${i}]`, 'must be an email address'); });
    out.notify = notify;
  }
  return out;
}

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

const bulkChecks = {
  recipients_per_message: posInt,
  distinct_recipients_per_day: posInt,
  fingerprint_recipients: posInt,
  fingerprint_window_minutes: posInt,
  split_window_minutes: posInt,
  newsletter_headers: bool,
  action: (x: unknown, key: string) => oneOf(x, key, BULK_ACTIONS),
};

export function bulkPolicy(v: unknown, path: string, p: Problems): Partial<BulkPolicy> {
  const o = object(v, path, p, Object.keys(bulkChecks));
  return o ? p.fields<BulkPolicy>(o, path, bulkChecks) : {};
}

const guardChecks = {
  enabled: bool,
  volume_factor: posNumber,
  min_hourly: posInt,
  history_days: posInt,
  new_domains_per_hour: posInt,
  min_known_domains: posInt,
  notify: strList,
};

export function guardPolicy(v: unknown, path: string, p: Problems): Partial<GuardPolicy> {
  const o = object(v, path, p, Object.keys(guardChecks));
  if (!o) return {};
  const out = p.fields<GuardPolicy>(o, path, guardChecks);
  out.notify?.forEach((a, i) => { if (!/^[^@\s]+@[^@\s]+$/.test(a)) p.add(`${path}.notify[${i}]`, 'must be an email address'); });
  return out;
}
